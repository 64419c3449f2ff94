"""The decontaminate step, job and command: every input format, evidence, report counts, dry runs, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from notus_data.cli.decontaminate import decontaminate_command
from notus_data.decontamination import (
    EVIDENCE_SCHEMA,
    BenchmarkQuestion,
    DecontaminateOptions,
    DecontaminationIndex,
    decontaminate_table,
)
from notus_data.decontamination.benchmarks import BenchmarkSource, load_questions, resolve_benchmarks
from notus_data.errors import NotusDataError, OptionError, SchemaError
from notus_data.io import read_table, report_path
from notus_data.jobs.binarize import binarize
from notus_data.jobs.decontaminate import decontaminate, evidence_path
from notus_data.steps.decontaminate import DecontaminateStep
from tests.ufrows import rated, write_jsonl, write_parquet

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QUESTIONS = ["What happens to you if you eat watermelon seeds?", "Why do veins appear blue?", "Who are you?"]


def DecontaminationStep(options: DecontaminateOptions) -> DecontaminateStep:  # noqa: N802
    """The step, set up (its benchmarks loaded and indexed), as a pipeline would have it."""
    step = DecontaminateStep(options)
    step.setup()
    return step


@pytest.fixture(scope="module")
def index() -> DecontaminationIndex:
    return DecontaminationIndex.build(BenchmarkQuestion("truthfulqa", q) for q in QUESTIONS)


@pytest.fixture()
def questions_file(tmp_path) -> Path:
    return write_jsonl(
        tmp_path / "questions.jsonl", [{"question": q, "correct_answers": ["x"]} for q in QUESTIONS]
    )


def raw_rows() -> list[dict]:
    """Raw UltraFeedback rows: 2 copies in other sources, 1 truthful_qa row (text not a question), 3 clean."""
    return [
        rated("Write a haiku about autumn.", [5, 3, 2]),
        rated("Q: what happens to you if you eat  watermelon seeds", [4, 2], source="evol_instruct"),
        rated("Is it safe to swim after eating?", [4, 1], source="truthful_qa"),
        rated("Explain recursion to a child.", [5, 4], source="sharegpt"),
        rated("I read about anatomy. Why do veins appear blue? Cite a source.", [3, 1], source="sharegpt"),
        rated("Summarize the plot of Hamlet.", [5, 2], source="flan_v2_niv2"),
    ]


def test_raw_ultrafeedback_rows_are_removed_with_evidence(tmp_path, questions_file):
    path = write_parquet(tmp_path / "uf.parquet", raw_rows())
    out = tmp_path / "clean.parquet"
    report = decontaminate(path, out, benchmark_file=str(questions_file), batch_size=2)
    kept = read_table(out)
    assert kept.schema.names == pq.read_schema(path).names  # the input's own columns, raw schema kept
    assert kept.column("instruction").to_pylist() == [
        "Write a haiku about autumn.",
        "Explain recursion to a child.",
        "Summarize the plot of Hamlet.",
    ]
    evidence = read_table(evidence_path(out))
    assert evidence.schema.equals(EVIDENCE_SCHEMA)
    assert evidence.select(["row_index", "source", "method", "question"]).to_pylist() == [
        {"row_index": 1, "source": "evol_instruct", "method": "ngram", "question": QUESTIONS[0]},
        {"row_index": 2, "source": "truthful_qa", "method": "source", "question": None},
        {"row_index": 4, "source": "sharegpt", "method": "ngram", "question": QUESTIONS[1]},
    ]
    assert evidence.column("field").to_pylist() == ["instruction"] * 3
    # Counts add up: rows in = rows out + removed, by method and by source.
    section = report.steps["decontaminate"]
    assert (report.rows_in, report.rows_out, section["rows_removed"]) == (6, 3, 3)
    assert sum(section["by_method"].values()) == section["rows_removed"] == sum(report.dropped.values())
    assert section["by_method"] == {"source": 1, "ngram": 2}
    assert report.dropped_by_source == {
        "evol_instruct": {"decontaminated": 1},
        "sharegpt": {"decontaminated": 1},
        "truthful_qa": {"decontaminated": 1},
    }
    saved = json.loads(report_path(out).read_text())
    assert saved["steps"]["decontaminate"]["by_source_and_method"]["truthful_qa/source"] == 1


def test_source_filter_can_be_turned_off(tmp_path, questions_file):
    path = write_jsonl(tmp_path / "uf.jsonl", raw_rows())
    report = decontaminate(
        path, tmp_path / "out.jsonl", benchmark_file=str(questions_file), source_filter=False
    )
    assert report.steps["decontaminate"]["by_method"] == {"ngram": 2}
    assert len(read_table(tmp_path / "out.jsonl")) == 4
    assert evidence_path(tmp_path / "out.jsonl").name == "out.decontamination.jsonl"


@pytest.mark.parametrize("fmt", ["notus", "cleaned", "h4"])
def test_every_binarize_format(tmp_path, questions_file, fmt):
    raw = write_parquet(tmp_path / "uf.parquet", raw_rows())
    pairs = tmp_path / f"pairs-{fmt}.parquet"
    binarize(raw, pairs, format=fmt, strategy="best-vs-worst")
    out = tmp_path / "clean.parquet"
    report = decontaminate(pairs, out, benchmark_file=str(questions_file))
    evidence = read_table(evidence_path(out))
    expected_methods = {"ngram": 2, "source": 1} if fmt != "h4" else {"ngram": 2}  # h4 has no source column
    assert report.steps["decontaminate"]["by_method"] == expected_methods
    assert report.rows_in == 6 and report.rows_out == 6 - sum(expected_methods.values())
    assert set(evidence.column("question").drop_null().to_pylist()) == set(QUESTIONS[:2])
    assert read_table(out).schema.equals(pq.read_schema(pairs))
    if fmt != "notus":
        assert set(evidence.column("field").to_pylist()) == {"prompt"}  # the prompt repeats as the user turn


def test_message_lists_check_every_user_turn(index):
    messages = pa.array(
        [
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "ok, so: WHY DO VEINS APPEAR BLUE"},
            ],
            [
                {"role": "user", "content": "Tell me a joke."},
                {"role": "assistant", "content": "Who are you?"},
            ],
            None,
        ],
        pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())])),
    )
    table = pa.table({"messages": messages})
    kept, evidence = decontaminate_table(table, index)
    assert kept.num_rows == 2
    assert evidence.select(["row_index", "field", "method"]).to_pylist() == [
        {"row_index": 0, "field": "messages[2]", "method": "ngram"}
    ]
    # The assistant's "Who are you?" counts only when responses are checked.
    kept, evidence = decontaminate_table(table, index, DecontaminateOptions(check_responses=True))
    assert evidence.column("field").to_pylist() == ["messages[2]", "messages[1]"]


def test_responses_are_checked_on_request(index):
    table = pa.Table.from_pylist(raw_rows()[:1])
    table = table.set_column(
        table.schema.get_field_index("completions"),
        "completions",
        pa.array([[{"response": "Sure. Why do veins appear blue? Because..."}, {"response": "no"}]]),
    )
    assert decontaminate_table(table, index)[0].num_rows == 1
    kept, evidence = decontaminate_table(table, index, DecontaminateOptions(check_responses=True))
    assert kept.num_rows == 0 and evidence.column("field").to_pylist() == ["completions[0]"]


def test_explicit_text_columns_and_row_offset(index):
    table = pa.table({"query": ["hello", "Who are you?"], "other": ["Who are you?", "x"]})
    kept, evidence = decontaminate_table(
        table, index, DecontaminateOptions(text_columns="query"), row_offset=100
    )
    assert kept.column("query").to_pylist() == ["hello"]
    assert evidence.column("row_index").to_pylist() == [101]
    assert evidence.column("method").to_pylist() == ["exact"]


def test_step_interface_for_pipelines(questions_file):
    step = DecontaminationStep(DecontaminateOptions(benchmark_file=str(questions_file)))
    info = step.describe()
    assert info["questions"] == 3 and info["source_filter"] == ["truthful_qa"]
    assert info["benchmarks"][0]["name"] == "truthfulqa" and info["benchmarks"][0]["questions"] == 3
    keep, evidence = step.apply(pa.Table.from_pylist(raw_rows()))
    assert keep.tolist() == [True, False, False, True, False, True] and evidence.num_rows == 3


def test_dry_run_writes_evidence_and_report_only(tmp_path, questions_file):
    path = write_jsonl(tmp_path / "uf.jsonl", raw_rows())
    out = tmp_path / "clean.parquet"
    report = decontaminate(path, out, benchmark_file=str(questions_file), dry_run=True)
    assert not out.exists()
    assert read_table(evidence_path(out)).num_rows == 3 and report_path(out).exists()
    assert report.info["dry_run"] is True and report.rows_in == 6


def test_output_does_not_depend_on_batch_size(tmp_path, questions_file):
    rows = raw_rows() * 7
    path = write_parquet(tmp_path / "uf.parquet", rows)
    for size in (3, 1000):
        decontaminate(
            path, tmp_path / f"out{size}.parquet", benchmark_file=str(questions_file), batch_size=size
        )
    assert (tmp_path / "out3.parquet").read_bytes() == (tmp_path / "out1000.parquet").read_bytes()
    a, b = (read_table(evidence_path(tmp_path / f"out{s}.parquet")) for s in (3, 1000))
    assert a.equals(b) and a.column("row_index").to_pylist()[-3:] == [37, 38, 40]


# ------------------------------------------------------------------------------------------- benchmarks


def test_benchmark_files_csv_named_and_several(tmp_path, index):
    csv = tmp_path / "trivia.csv"
    csv.write_text('id,text\n1,"Who painted the Mona Lisa?"\n2,"How tall is Mount Everest?"\n')
    sources = resolve_benchmarks(("truthfulqa",), (f"trivia={csv}", str(tmp_path / "tqa.jsonl")), column=None)
    assert [s.name for s in sources] == ["truthfulqa", "trivia"]
    assert sources[0].path == str(tmp_path / "tqa.jsonl") and sources[1].path == str(csv)
    write_jsonl(tmp_path / "tqa.jsonl", [{"question": q} for q in QUESTIONS])
    questions, info = load_questions(sources)
    assert [i["questions"] for i in info] == [3, 2]  # the CSV's only text column is taken
    step = DecontaminationStep(
        DecontaminateOptions(
            benchmark=("truthfulqa",), benchmark_file=(f"trivia={csv}", str(tmp_path / "tqa.jsonl"))
        )
    )
    keep, evidence = step.apply(pa.table({"prompt": ["who painted the mona lisa", "Who are you?", "Hi"]}))
    assert evidence.column("benchmark").to_pylist() == ["trivia", "truthfulqa"]


def test_hub_loader_reads_a_local_dataset_and_falls_back_to_the_cache(tmp_path):
    repo = tmp_path / "fake_hub_set"
    repo.mkdir()
    write_jsonl(repo / "validation.jsonl", [{"question": q, "best_answer": "a"} for q in QUESTIONS])
    source = BenchmarkSource(
        name="mine", column="question", hub_id=str(repo), configs=(None,), split="validation"
    )
    questions, info = load_questions([source], cache=tmp_path / "cache")
    assert [q.question for q in questions] == QUESTIONS and "from_cache" not in info[0]
    (repo / "validation.jsonl").unlink()
    repo.rmdir()
    questions, info = load_questions([source], cache=tmp_path / "cache")  # the source is gone: cache
    assert [q.question for q in questions] == QUESTIONS and "from_cache" in info[0]


def test_hub_benchmark_offline_names_the_fix(monkeypatch):
    import datasets
    import huggingface_hub

    # Offline mode, as HF_HUB_OFFLINE=1 sets it at import: the real loader fails at once, without the network.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(NotusDataError, match="--benchmark-file truthfulqa=PATH"):
        DecontaminationStep(DecontaminateOptions())


def test_bad_options_and_benchmarks_are_clear_errors(tmp_path):
    with pytest.raises(OptionError, match="methods"):
        DecontaminateOptions(methods="exact,fuzzy")
    with pytest.raises(OptionError, match="near_duplicate_threshold"):
        DecontaminateOptions(near_duplicate_threshold=1.5)
    with pytest.raises(NotusDataError, match="not a known benchmark"):
        resolve_benchmarks(("mmlu",))
    bad = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "a", "title": "x"}])
    with pytest.raises(SchemaError, match="no column 'question'"):
        DecontaminationStep(DecontaminateOptions(benchmark_file=str(bad)))
    with pytest.raises(NotusDataError, match="no such file"):
        DecontaminationStep(DecontaminateOptions(benchmark_file=str(tmp_path / "missing.jsonl")))


# ------------------------------------------------------------------------------------------- CLI


def test_cli_runs_and_reports(tmp_path, questions_file):
    path = write_jsonl(tmp_path / "uf.jsonl", raw_rows())
    out = tmp_path / "clean.jsonl"
    result = CliRunner().invoke(
        decontaminate_command, [str(path), str(out), "--benchmark-file", str(questions_file), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "3 of 6 rows hold a benchmark question; 3 rows written" in result.output
    assert len(read_table(out)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text-columns", "nope"], "text_columns ['nope'] not found"),
        (["--benchmark-file", "missing.jsonl"], "missing.jsonl: no such file"),
        (["--methods", "exact,magic"], "methods: ['magic'] not usable"),
        (["--benchmark", "nonsense"], "'nonsense' is not a known benchmark"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, questions_file, args, message):
    path = write_jsonl(tmp_path / "uf.jsonl", raw_rows())
    if "--benchmark-file" not in args and "--benchmark" not in args:
        args = [*args, "--benchmark-file", str(questions_file)]
    result = CliRunner().invoke(decontaminate_command, [str(path), str(tmp_path / "o.parquet"), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.parquet").exists()


def test_cli_input_without_text_columns(tmp_path, questions_file):
    path = write_jsonl(tmp_path / "t.jsonl", [{"id": 1, "body": "Who are you?"}])
    result = CliRunner().invoke(
        decontaminate_command,
        [str(path), str(tmp_path / "o.parquet"), "--benchmark-file", str(questions_file)],
    )
    assert result.exit_code == 1
    assert "no text to check" in result.output and "--text-columns" in result.output


def test_real_pairs_with_the_offline_truthfulqa_file(tmp_path):
    questions = SHARED / "truthfulqa" / "questions.jsonl"
    pairs = SHARED / "ultrafeedback-pairs" / "eval_clean.jsonl"
    if not questions.exists() or not pairs.exists():
        pytest.skip(f"offline data not found under {SHARED}")
    rows = [json.loads(line) for line in pairs.open(encoding="utf-8")]
    tqa = [json.loads(line)["question"] for line in questions.open(encoding="utf-8")]
    rows[0]["prompt"] = "Answer truthfully: " + tqa[10]
    rows[1]["prompt"] = rows[1]["prompt"] + "\n\n" + tqa[20].lower()
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    report = decontaminate(path, tmp_path / "clean.parquet", benchmark_file=f"truthfulqa={questions}")
    evidence = read_table(evidence_path(tmp_path / "clean.parquet"))
    assert evidence.column("row_index").to_pylist() == [0, 1]
    assert evidence.column("question").to_pylist() == [tqa[10].strip(), tqa[20].strip()]
    assert report.rows_out == len(rows) - 2
