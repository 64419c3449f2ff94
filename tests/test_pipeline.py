"""The pipeline: steps checked before the first row, the one loop body, sources and sinks in memory, and the same
bytes whatever the batch size or the local engine's threads, for every job."""

from __future__ import annotations

import hashlib
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import notus_data
from notus_data.errors import OptionError, SchemaError
from notus_data.io.sources import load_ultrafeedback
from notus_data.pipeline import Pipeline
from notus_data.steps.base import Step, StepResult, outcomes
from notus_data.steps.binarize import BinarizeStep
from notus_data.steps.score import ScoreStep

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ultrafeedback-sample.parquet"
QUESTIONS = ROOT / "data" / "truthfulqa-questions.jsonl"


def digest(path: Path) -> dict[str, str]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# ------------------------------------------------------------------------------------------- the contract


class KeepLong(Step):
    """A step as a user would write one: removes prompts shorter than ``n`` characters."""

    name = "keep_long"
    reads = ("instruction", "source")

    def __init__(self, n: int) -> None:
        self.n = n

    def process(self, table: pa.Table, start: int) -> StepResult:
        import pyarrow.compute as pc

        short = pc.fill_null(pc.less(pc.utf8_length(table.column("instruction")), self.n), True)
        gone = table.filter(short)
        return StepResult(
            table.filter(pc.invert(short)),
            outcomes=outcomes(gone.column("source"), "too_short", 0),
            counts={"removed": gone.num_rows},
        )


def test_a_new_step_joins_a_pipeline_and_every_row_is_accounted_for():
    source = load_ultrafeedback(SAMPLE)
    run = Pipeline("binarize", source, [KeepLong(80), ScoreStep(), BinarizeStep()], batch_size=64).run()
    report = run.report
    assert report.dropped["too_short"] == report.steps["keep_long"]["removed"] > 0
    assert report.rows_in == 400 and report.rows_with_pairs + sum(report.dropped.values()) == 400


def test_a_step_reading_a_column_nobody_gives_fails_before_any_row():
    class NeedsLength(Step):
        name = "needs"
        reads = ("length",)

        def process(self, table, start):  # pragma: no cover - never reached
            raise AssertionError("a batch was processed")

    pipeline = Pipeline("x", load_ultrafeedback(SAMPLE), [ScoreStep(), NeedsLength()])
    with pytest.raises(SchemaError, match=r"step 'needs' reads \['length'\]"):
        pipeline.run()
    # the columns a step adds are there for the next one
    Pipeline("x", load_ultrafeedback(SAMPLE), [ScoreStep(), BinarizeStep()]).check()
    with pytest.raises(SchemaError, match=r"step 'binarize' reads \['score', 'avg_rating'\]"):
        Pipeline("x", load_ultrafeedback(SAMPLE), [BinarizeStep()]).check()


def test_the_flag_step_asks_the_source_for_critiques_only_when_it_runs():
    from notus_data.steps.flag import FlagStep

    with_flag = Pipeline("x", load_ultrafeedback(SAMPLE), [ScoreStep(), FlagStep()])
    with_flag.check()
    assert with_flag.source.with_critique and "critique" in with_flag.source.columns()["completions"]
    plain = Pipeline("x", load_ultrafeedback(SAMPLE, with_critique=True), [ScoreStep(), BinarizeStep()])
    plain.check()
    assert not plain.source.with_critique


# ------------------------------------------------------------------------------------------- in memory


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> pa.Table:
    out = tmp_path_factory.mktemp("pipeline") / "pairs.parquet"
    notus_data.binarize(SAMPLE, out, strategy="zephyr", format="h4")
    return pq.read_table(out)


@pytest.mark.parametrize("kind", ["Dataset", "IterableDataset", "Table", "DataFrame"])
def test_an_input_in_memory_gives_the_pairs_of_the_file(expected, kind):
    table = pq.read_table(SAMPLE)
    data = {
        "Dataset": lambda: datasets.Dataset(table),
        "IterableDataset": lambda: datasets.Dataset(table).to_iterable_dataset(num_shards=1),
        "Table": lambda: table,
        "DataFrame": lambda: table.to_pandas(),
    }[kind]()
    pairs, report = notus_data.binarize(data, strategy="zephyr", format="h4", batch_size=50)
    assert isinstance(pairs, datasets.Dataset) and pairs.num_rows == report.rows_out
    assert pairs.data.table.equals(expected)
    assert report.info["input"] in (f"datasets.{kind}", f"pyarrow.{kind}", f"pandas.{kind}")


def test_every_job_gives_its_tables_in_memory(tmp_path):
    flagged, report = notus_data.flag(SAMPLE)
    notus_data.flag(SAMPLE, tmp_path / "f.parquet")
    assert (
        flagged.data.table.equals(pq.read_table(tmp_path / "f.parquet"))
        and flagged.num_rows == report.rows_out
    )
    kept, report = notus_data.decontaminate(SAMPLE, benchmark_file=str(QUESTIONS))
    assert kept.num_rows == 400 - report.dropped["decontaminated"]
    assert report.tables["evidence"].num_rows == report.dropped["decontaminated"] > 0


def test_wrong_input_types_are_one_clear_error():
    with pytest.raises(OptionError, match="a builtins.int is not an input"):
        notus_data.binarize(42)
    with pytest.raises(OptionError, match=r"holds several splits \(train\); pass one"):
        notus_data.binarize(datasets.DatasetDict({"train": datasets.Dataset(pq.read_table(SAMPLE))}))


# ------------------------------------------------------------------------------------------- determinism


JOBS = {
    "binarize": lambda out, **kw: notus_data.binarize(SAMPLE, out / "p.jsonl", benchmark_file=str(QUESTIONS),
                                                      strategy="best-vs-all", **kw),
    "flag": lambda out, **kw: notus_data.flag(SAMPLE, out / "f.parquet", **kw),
    "decontaminate": lambda out, **kw: notus_data.decontaminate(SAMPLE, out / "d", benchmark_file=str(QUESTIONS),
                                                                **kw),
    "run": lambda out, **kw: notus_data.run("zephyr", input=str(SAMPLE), benchmark_file=str(QUESTIONS),
                                            output=out / "r", plots=False, batch_size=kw.get("batch_size", 4096)),
}  # fmt: skip


@pytest.mark.parametrize("job", sorted(JOBS))
def test_same_bytes_whatever_the_batch_size(job, tmp_path):
    runs = []
    for size in (7, 130, 4096):
        out = tmp_path / str(size)
        out.mkdir()
        report = JOBS[job](out, batch_size=size)
        files = {name: h for p in out.iterdir() if not p.name.endswith((".report.json", ".run.json")) for name, h in
                 digest(p).items()}  # fmt: skip
        counts = report.to_dict()
        counts["info"] = {
            k: v
            for k, v in counts["info"].items()
            if k not in ("seconds", "timings", "output", "evidence", "changes")
        }
        runs.append((files, counts))  # fmt: skip
    assert runs[0] == runs[1] == runs[2]


def test_the_local_engine_gives_the_same_bytes_with_or_without_its_worker_thread(tmp_path):
    from notus_data.engines.local import LocalEngine
    from notus_data.io.sinks import FileSink

    results = []
    for workers in (0, 1, 3):
        out = tmp_path / f"w{workers}.parquet"
        sink = FileSink("binarize", main=out, schemas={"main": BinarizeStep().schema})
        pipeline = Pipeline("binarize", load_ultrafeedback(SAMPLE), [ScoreStep(), BinarizeStep()], sink,
                            batch_size=33)  # fmt: skip
        pipeline.check()
        run = LocalEngine(workers=workers).run(pipeline)
        results.append((out.read_bytes(), run.report.rows_out))
    assert results[0] == results[1] == results[2]
