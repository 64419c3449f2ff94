"""The seven known benchmarks: presets, bundled copies with ids, the fast Hub failure, per-benchmark matching (MT-Bench
second turns, GSM8K with numbers changed, HumanEval renamed, Arena-Hard quoted in part), the meaning veto, the
thresholds per benchmark, the review command, the planted benchmark's held-out split, and the card."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from notus_data.cli import main
from notus_data.decontamination import DecontaminateOptions, find_contamination, load_index
from notus_data.decontamination.benchmarks import bundled_path, resolve_benchmarks
from notus_data.decontamination.catalog import KNOWN_BENCHMARKS, PRESETS
from notus_data.decontamination.planted import (
    load_sets,
    make_cases,
    score_cases,
    sentences_of,
    split_of,
)
from notus_data.errors import NotusDataError, OptionError
from notus_data.io import paths

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ALPACA = SHARED / "benchmarks" / "alpaca_eval.jsonl"
needs_shared = pytest.mark.skipif(not ALPACA.exists(), reason=f"offline data not found under {SHARED}")
ROOT = Path(__file__).resolve().parents[1]


def _bundled_lines(name: str) -> list[dict]:
    return [json.loads(line) for line in bundled_path(name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def index():
    """Every bundled benchmark (all but alpaca_eval), indexed once."""
    names = [n for n in KNOWN_BENCHMARKS if KNOWN_BENCHMARKS[n].bundled]
    built, info = load_index(DecontaminateOptions(benchmark=names, bundled=True))
    return built, info


def hits(texts: list[str], index, **options) -> list[tuple[str, str, str] | None]:
    """(benchmark, question id, method) of each text, or None."""
    opts = DecontaminateOptions(benchmark="truthfulqa", **options)
    _, evidence = find_contamination(pa.table({"prompt": texts}), index, opts)
    by_row = {
        r["row_index"]: (r["benchmark"], r["question_id"], r["method"])
        for r in evidence.select(["row_index", "benchmark", "question_id", "method"]).to_pylist()
    }
    return [by_row.get(i) for i in range(len(texts))]


def test_presets_expand_to_the_known_benchmarks() -> None:
    assert PRESETS["chat"] == ("truthfulqa", "mt_bench", "alpaca_eval", "arena_hard", "ifeval")
    assert [s.name for s in resolve_benchmarks(["all"])] == list(KNOWN_BENCHMARKS)
    chat = resolve_benchmarks(["chat", "gsm8k"])
    assert [s.name for s in chat] == [*PRESETS["chat"], "gsm8k"]
    assert {s.hub_id for s in chat} >= {"lighteval/mt-bench", "tatsu-lab/alpaca_eval", "openai/gsm8k"}
    with pytest.raises(NotusDataError, match="not a known benchmark or preset"):
        resolve_benchmarks(["chatt"])


def test_bundled_copies_load_with_their_ids_and_alpaca_eval_is_not_bundled(index) -> None:
    built, info = index
    counts = {i["name"]: i["questions"] for i in info}
    assert counts == {
        "truthfulqa": 817, "mt_bench": 160, "arena_hard": 500, "ifeval": 541, "gsm8k": 1319, "humaneval": 164,
    }  # fmt: skip
    assert all(i["bundled"] == f"{i['name']}.jsonl" for i in info)
    ids = set(zip(built.benchmarks, built.ids, strict=True))
    assert {("mt_bench", "81"), ("mt_bench", "81/turn-2"), ("humaneval", "HumanEval/163")} <= ids
    assert bundled_path("alpaca_eval") is None
    with pytest.raises(NotusDataError, match=r"'alpaca_eval' is not bundled \(license CC BY-NC 4.0\)"):
        resolve_benchmarks(["chat"], bundled=True)


def test_an_unreachable_hub_fails_at_once_naming_the_offline_ways(monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(paths, "_HUB_STATE", {})
    with pytest.raises(NotusDataError) as err:
        load_index(DecontaminateOptions(benchmark="mt_bench"))
    message = str(err.value)
    assert "Hub is unreachable" in message and "lighteval/mt-bench" in message
    assert "--benchmark-file mt_bench=PATH" in message and "--bundled" in message


def test_each_benchmark_is_matched_as_its_text_needs(index) -> None:
    built, _ = index
    mt = next(r for r in _bundled_lines("mt_bench") if r["id"] == 104)
    gsm = _bundled_lines("gsm8k")[0]["question"]
    code = _bundled_lines("humaneval")[0]["question"]
    arena = next(r for r in _bundled_lines("arena_hard") if r["id"] == "b26d8c58eaa04b1f8e7e88da9ddd4ed9")
    words = arena["question"].split(" ")
    texts = [
        f"Earlier you answered a riddle. {mt['turns'][0]}",  # a second turn of MT-Bench
        gsm.replace("16", "20").replace("$2", "$3"),  # the same problem, its numbers changed
        code.replace("has_close_elements", "close_pair").replace("    ", "\t"),  # renamed, re-indented
        "Help me with this: " + " ".join(words[: int(len(words) * 0.6)]),  # the first 60% of a long prompt
    ]
    assert hits(texts, built) == [
        ("mt_bench", "104/turn-2", "ngram"),
        ("gsm8k", "0", "ngram"),  # its numbers do not count
        ("humaneval", "HumanEval/0", "ngram"),
        ("arena_hard", arena["id"], "ngram"),
    ]


def test_the_meaning_veto_keeps_a_question_with_its_key_word_or_number_changed(index) -> None:
    built, _ = index
    texts = [
        "Is a pen or a cathedral more useful in a physical fight?",  # truthfulqa 261 says "sword"
        "Is a pen or a sword more useful in a real physical fight?",  # a word added: still the question
        "What happened to the affordability of food and drink in Britain since 1980?",  # truthfulqa: 1950
    ]
    got = hits(texts, built)
    assert got[0] is None and got[1][:2] == ("truthfulqa", "261") and got[2] is None
    unguarded = hits(texts, built, veto=False)
    assert unguarded[0][:2] == ("truthfulqa", "261") and unguarded[2][0] == "truthfulqa"


def test_thresholds_are_set_per_benchmark(index) -> None:
    built, _ = index
    text = ["What occurs to you if you eat watermelon seeds?"]  # truthfulqa 0, one common word replaced
    assert hits(text, built)[0] == ("truthfulqa", "0", "near_duplicate")
    assert hits(text, built, threshold="truthfulqa.near_duplicate=0.97")[0] is None
    assert hits(text, built, threshold="gsm8k.near_duplicate=0.97")[0] is not None
    assert hits(text, built, near_duplicate_threshold=0.97)[0] is None
    for bad in ("truthfulqa=0.5", "truthfulqa.exact=0.5", "truthfulqa.ngram=2"):
        with pytest.raises(OptionError, match="NAME.METHOD=VALUE"):
            DecontaminateOptions(threshold=bad)


def test_review_shows_the_evidence_weakest_first(tmp_path) -> None:
    prompts = [
        "Q: what happens to you if you eat watermelon seeds",
        "What occurs to you if you eat watermelon seeds?",
        "Write a haiku about rain.",
        "Earlier you answered. " + next(r for r in _bundled_lines("mt_bench") if r["id"] == 104)["turns"][0],
    ]
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts), encoding="utf-8")
    runner = CliRunner()
    args = ["decontaminate", str(src), str(tmp_path / "c.jsonl"), "--benchmark", "truthfulqa,mt_bench"]
    result = runner.invoke(main, [*args, "--bundled", "--quiet"])
    assert result.exit_code == 0, result.output
    evidence = str(tmp_path / "c.decontamination.jsonl")
    shown = runner.invoke(main, ["decontaminate", "review", evidence])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["row", "benchmark/id", "method", "score", "prompt", "matched", "question"]
    assert [line.split()[:3] for line in lines[2:]] == [
        ["1", "truthfulqa/0", "near_duplicate"],
        ["0", "truthfulqa/0", "ngram"],
        ["3", "mt_bench/104/turn-2", "ngram"],
    ]
    only = runner.invoke(
        main, ["decontaminate", "review", evidence, "--benchmark", "mt_bench", "--min-score", "0.9"]
    )
    assert [line.split()[0] for line in only.stdout.splitlines()[2:]] == ["3"]
    missing = runner.invoke(main, ["decontaminate", "review", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and "no such file" in missing.output


@needs_shared
@pytest.mark.slow
def test_planted_benchmark_held_out_split() -> None:
    """The test split (tuned on dev only): the figures docs/decontamination.md publishes, as floors."""
    rows = [
        json.loads(line)
        for f in sorted((SHARED / "ultrafeedback-pairs").glob("*.jsonl"))
        for line in f.open()
    ]
    pool = sentences_of(
        [r["rejected"] if isinstance(r["rejected"], str) else r["rejected"][-1]["content"] for r in rows]
    )
    sets = load_sets(SHARED / "benchmarks", SHARED / "truthfulqa" / "questions.jsonl")
    assert all(split_of(b, i) in ("dev", "test") for b, items in sets.items() for i, _ in items)
    cases = make_cases(sets, "test", [r["prompt"] for r in rows], pool, synthetic=500)
    options = DecontaminateOptions(
        benchmark="all", bundled=True, benchmark_file=f"alpaca_eval={ALPACA}", index_cache=None
    )
    built, _ = load_index(options)
    scores = score_cases(cases, built, options)
    for kind in (
        "exact",
        "case_punct",
        "whitespace",
        "prefix",
        "embedded",
        "swap",
        "partial",
        "numbers_changed",
    ):
        assert scores.recall(kind) >= 0.95, kind
    assert scores.recall("synonym") >= 0.95 and scores.recall("code_reformat") >= 0.9
    assert scores.fp_rate("real_prompt") <= 0.001 and scores.fp_rate("synthetic_prompt") <= 0.001
    assert scores.fp_rate("neg_one_word") <= 0.02 and scores.fp_rate("neg_topic") <= 0.001


@needs_shared
def test_the_chat_clean_recipe_card_counts_by_benchmark(tmp_path) -> None:
    from notus_data.recipes import run

    out = tmp_path / "out"
    run(
        "notus-chat-clean", input=str(ROOT / "data" / "ultrafeedback-sample.parquet"), output=str(out),
        bundled=True, benchmark_file=f"alpaca_eval={ALPACA}", plots=False,
    )  # fmt: skip
    card = (out / "README.md").read_text(encoding="utf-8")
    section = card.split("## Decontamination", 1)[1].split("\n## ", 1)[0]
    assert "`mt_bench` (160 questions, from `mt_bench.jsonl` bundled with notus-data)" in section
    table = section.split("By benchmark:", 1)[1].split("By source:", 1)[0]
    names = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| `")]
    assert names == [f"`{n}`" for n in PRESETS["chat"]]
