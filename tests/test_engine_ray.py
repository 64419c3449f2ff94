"""The Ray engine gives the local engine's output, byte for byte, and the same report counts.

The Ray tests run on a local Ray (2 CPUs) started once for the session, over a synthetic UltraFeedback-shaped
input with the known pitfalls (N/A and invalid ratings, ties, rows with 0-1 completions, nulls, duplicates), cut
into different numbers of files, row groups, chunks and Ray blocks. They are skipped, with the install line, only
where Ray is not installed. The planning and ordering helpers are tested without Ray.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from notus_data.engines.ray.engine import in_order
from notus_data.engines.ray.work import result_row
from notus_data.errors import MissingDependencyError, NotusDataError, OptionError, SchemaError
from notus_data.io import OUTPUT_MARKER, read_table
from notus_data.io.chunks import Chunk, plan_chunks
from notus_data.jobs.binarize import binarize
from notus_data.pipeline import BatchResult
from notus_data.report import Report
from notus_data.steps.binarize import BinarizeOptions
from notus_data.synthetic import write_jsonl, write_parquet

ROWS = 1200
SKIP_REASON = "ray is not installed: pip install 'notus-data[ray]' to run the Ray engine tests"
# Ray Data reads its own deprecated settings when it copies its context: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs for this module (the engine uses it instead of starting its own)."""
    ray = pytest.importorskip("ray", reason=SKIP_REASON)
    pytest.importorskip("ray.data", reason=SKIP_REASON)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=160 * 2**20,
        logging_level=logging.WARNING,
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """The same rows as one file (row groups of 100) and as 3 shards with different row-group sizes."""
    folder = tmp_path_factory.mktemp("ray-inputs")
    single = write_parquet(folder / "uf.parquet", ROWS, seed=7, row_group_size=100)
    table = pq.read_table(single)
    shards = folder / "shards"
    shards.mkdir()
    pq.write_table(table.slice(0, 250), shards / "train-00000-of-00003.parquet", row_group_size=60)
    pq.write_table(table.slice(250, 700), shards / "train-00001-of-00003.parquet", row_group_size=700)
    pq.write_table(table.slice(950), shards / "train-00002-of-00003.parquet", row_group_size=33)
    return {"single": single, "shards": shards}


def output_bytes(path: Path) -> dict[str, bytes]:
    """The bytes of an output file, or of every file of an output folder."""
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return {path.name: path.read_bytes()}


def binarize_ray(input, output, options: BinarizeOptions, *, curation=None, **ray_kwargs) -> Report:
    """binarize on the Ray engine, with the binarize options and the engine's own keywords."""
    from dataclasses import asdict

    extra = asdict(curation) if curation is not None else {}
    return binarize(input, output, engine="ray", **asdict(options), **extra, **ray_kwargs)


def counts(report: Report) -> dict:
    """The report without what legitimately differs between engines (where and how long it ran)."""
    d = report.to_dict()
    d["info"] = {
        k: v
        for k, v in d["info"].items()
        if k not in ("engine", "seconds", "output", "evidence", "changes", "timings")
    }
    return d


def assert_same_run(local_out: Path, local: Report, ray_out: Path, ray: Report) -> None:
    local_bytes = output_bytes(local_out)
    ray_bytes = output_bytes(ray_out)
    assert list(ray_bytes) == [n.replace(local_out.name, ray_out.name) for n in local_bytes]
    assert list(ray_bytes.values()) == list(local_bytes.values())
    assert counts(ray) == counts(local)
    assert (
        json.loads((ray_out.parent / f"{ray_out.stem}.report.json").read_text())["rows_out"] == local.rows_out
    )
    # the comparison is not vacuous: pairs were made, rows were dropped, problems were found
    assert local.rows_out > 0 and sum(local.dropped.values()) > 0 and local.problems.counts


CASES = [
    # (input, output suffix, options, ray keywords)
    ("single", ".parquet", {"strategy": "notus"}, {"batch_size": 100}),
    (
        "single",
        ".jsonl",
        {"strategy": "zephyr", "format": "h4", "seed": 3},
        {"batch_size": 64, "num_blocks": 2},
    ),
    ("shards", "", {"strategy": "all-pairs", "format": "cleaned"}, {"batch_size": 4096}),
    (
        "shards",
        ".parquet",
        {"strategy": "best-vs-all", "min_margin": 1.0, "drop_identical_text": True},
        {"batch_size": 128, "num_blocks": 1},
    ),
    (
        "shards",
        ".jsonl",
        {"strategy": "best-vs-worst", "score": "overall-score", "min_chosen_score": 6.0},
        {"batch_size": 50, "num_blocks": 7},
    ),
]


@pytest.mark.parametrize(("which", "suffix", "options", "ray_kwargs"), CASES)
def test_ray_matches_local(ray_cluster, inputs, tmp_path, which, suffix, options, ray_kwargs):
    source = inputs[which]
    local_out, ray_out = tmp_path / f"local{suffix}", tmp_path / f"ray{suffix}"
    local = binarize(source, local_out, **options)
    ray = binarize_ray(source, ray_out, BinarizeOptions(**options), **ray_kwargs)
    assert_same_run(local_out, local, ray_out, ray)
    assert ray.info["engine"]["read"] == "workers (parquet row groups)"
    assert ray.info["engine"]["chunks"] > 1


def test_the_binarize_keyword_and_the_cli_run_on_ray(ray_cluster, inputs, tmp_path):
    from notus_data.cli import main

    local = binarize(inputs["shards"], tmp_path / "local.parquet", strategy="notus", seed=11)
    via_keyword = binarize(
        inputs["shards"], tmp_path / "ray.parquet", strategy="notus", seed=11, engine="ray", batch_size=300
    )
    assert_same_run(tmp_path / "local.parquet", local, tmp_path / "ray.parquet", via_keyword)
    result = CliRunner().invoke(
        main,
        [
            "binarize",
            str(inputs["shards"]),
            str(tmp_path / "cli.parquet"),
            "--seed",
            "11",
            "--engine",
            "ray",
            "--batch-size",
            "200",
            "--quiet",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()


def test_a_non_parquet_input_is_read_on_the_driver_with_the_same_result(ray_cluster, tmp_path, caplog):
    source = write_jsonl(tmp_path / "uf.jsonl", 700, seed=5)
    local = binarize(source, tmp_path / "local.parquet", batch_size=256)
    with caplog.at_level(logging.WARNING, logger="notus_data.engine"):
        ray = binarize_ray(source, tmp_path / "ray.parquet", BinarizeOptions(), batch_size=100)
    assert_same_run(tmp_path / "local.parquet", local, tmp_path / "ray.parquet", ray)
    assert ray.info["engine"]["read"] == "driver (not parquet)"
    assert "is not parquet" in caplog.text


@pytest.mark.parametrize("which", ["single", "shards"])
def test_parallel_write_gives_the_same_pairs_in_file_name_order(ray_cluster, inputs, tmp_path, which):
    options = {"strategy": "best-vs-all", "format": "h4"}
    local = binarize(inputs[which], tmp_path / "local.parquet", **options)
    ray = binarize_ray(
        inputs[which], tmp_path / "ray", BinarizeOptions(**options), batch_size=150, ray_write="parallel"
    )
    assert (tmp_path / "ray" / OUTPUT_MARKER).is_file()  # the folder is marked as a binarize output
    files = sorted(f for f in (tmp_path / "ray").iterdir() if f.name != OUTPUT_MARKER)
    assert len(files) > 3 and all(f.name.startswith("part-") and f.suffix == ".parquet" for f in files)
    pairs = pa.concat_tables(pq.read_table(f) for f in files)
    assert pairs.equals(pq.read_table(tmp_path / "local.parquet"))
    assert read_table(tmp_path / "ray").equals(pairs)  # the folder is an input the toolkit reads back
    assert counts(ray) == counts(local)
    assert ray.info["engine"]["write"] == f"parallel ({len(files)} parquet files)"


def test_parallel_write_needs_a_folder_output(inputs, tmp_path):
    with pytest.raises(OptionError, match="ray_write: 'parallel' writes a folder"):
        binarize_ray(inputs["single"], tmp_path / "x.parquet", BinarizeOptions(), ray_write="parallel")
    with pytest.raises(OptionError, match="ray_write: 'fast' is not a write mode"):
        binarize_ray(inputs["single"], tmp_path / "x.parquet", BinarizeOptions(), ray_write="fast")


@pytest.mark.parametrize("ray_write", ["driver", "parallel"])
def test_a_bad_shard_fails_as_locally_and_leaves_no_output(ray_cluster, inputs, tmp_path, ray_write):
    shards = tmp_path / "shards"
    shards.mkdir()
    good = pq.read_table(inputs["single"]).slice(0, 300)
    pq.write_table(good, shards / "train-00000-of-00002.parquet", row_group_size=50)
    bad = good.slice(0, 20).set_column(3, "completions", pa.array(["not a list"] * 20))
    pq.write_table(bad, shards / "train-00001-of-00002.parquet")
    with pytest.raises(SchemaError) as local_error:
        binarize(shards, tmp_path / "local.parquet")
    output = tmp_path / ("ray.parquet" if ray_write == "driver" else "ray")
    with pytest.raises(SchemaError) as ray_error:
        binarize_ray(shards, output, BinarizeOptions(), batch_size=64, ray_write=ray_write)
    assert str(ray_error.value) == str(local_error.value)
    assert "train-00001-of-00002.parquet" in str(ray_error.value) and "completions" in str(ray_error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shards"]  # no output, no temporary left


def test_an_empty_input_gives_an_empty_output(ray_cluster, tmp_path):
    source = write_parquet(tmp_path / "empty.parquet", 0)
    local = binarize(source, tmp_path / "local.parquet")
    ray = binarize_ray(source, tmp_path / "ray.parquet", BinarizeOptions())
    assert (tmp_path / "ray.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()
    assert counts(ray) == counts(local) and ray.rows_in == 0


@pytest.fixture
def ray_head(tmp_path):
    """A separate Ray cluster (``ray start --head``, 1 CPU) in its own temp dir, stopped and removed after."""
    pytest.importorskip("ray", reason=SKIP_REASON)
    psutil = pytest.importorskip("psutil", reason="psutil is needed to stop the test's Ray head")
    temp = Path(tempfile.mkdtemp(prefix="nr", dir="/tmp"))  # short: Ray puts unix sockets under it
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--port=0", "--num-cpus=1",
           f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    head = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    address = None
    try:
        deadline = time.monotonic() + 120
        for line in head.stdout:  # "ray start --address='IP:PORT'" (how to add a node) comes once it is up
            found = re.search(r"--address='([^']+)'", line)
            if found or time.monotonic() > deadline:
                address = found and found.group(1)
                break
        assert address, "ray start --head printed no address"
        yield address, env
    finally:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
        for proc in psutil.process_iter(
            ["cmdline"]
        ):  # the head's daemons and workers: they name our temp dir
            with contextlib.suppress(psutil.Error):
                if any(str(temp) in part for part in proc.info["cmdline"] or ()):
                    proc.kill()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_the_cli_joins_an_existing_cluster_by_address(ray_head, inputs, tmp_path):
    address, env = ray_head
    local = binarize(inputs["shards"], tmp_path / "local.jsonl", format="cleaned")
    cli = [sys.executable, "-m", "notus_data.cli", "binarize", str(inputs["shards"]), str(tmp_path / "ray.jsonl"),
           "--format", "cleaned", "--engine", "ray", "--ray-address", address, "--batch-size", "300", "--quiet"]  # fmt: skip
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    report = json.loads((tmp_path / "ray.report.json").read_text())
    assert report["info"]["engine"]["cluster"] == f"joined the cluster at {address}"
    assert report["info"]["engine"]["address"] == address and report["rows_out"] == local.rows_out


# ------------------------------------------------------------------------------ flag and decontaminate

QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "truthfulqa-questions.jsonl"  # bundled copy


def assert_same_files(local_out: Path, ray_out: Path) -> None:
    assert list(output_bytes(ray_out).values()) == list(output_bytes(local_out).values())


@pytest.mark.parametrize(("which", "suffix", "ray_kwargs"), [("shards", ".parquet", {"batch_size": 90}),
                                                              ("single", ".jsonl", {"num_blocks": 3})])  # fmt: skip
def test_flag_on_ray_matches_local(ray_cluster, inputs, tmp_path, which, suffix, ray_kwargs):
    from notus_data.jobs.flag import flag

    local = flag(inputs[which], tmp_path / f"local{suffix}")
    ray = flag(inputs[which], tmp_path / f"ray{suffix}", engine="ray", **ray_kwargs)
    assert_same_files(tmp_path / f"local{suffix}", tmp_path / f"ray{suffix}")
    assert counts(ray) == counts(local)
    assert local.rows_out > 0 and local.steps["flag"]["by_source"]  # flags were found and counted by source


def test_flag_on_ray_reads_jsonl_on_the_driver(ray_cluster, tmp_path):
    from notus_data.jobs.flag import flag

    source = write_jsonl(tmp_path / "uf.jsonl", 600, seed=9)
    local = flag(source, tmp_path / "local.parquet", batch_size=128)
    ray = flag(source, tmp_path / "ray.parquet", engine="ray", batch_size=200)
    assert_same_files(tmp_path / "local.parquet", tmp_path / "ray.parquet")
    assert counts(ray) == counts(local) and ray.info["engine"]["read"] == "driver (not parquet)"


@pytest.fixture(scope="module")
def questions():
    if not QUESTIONS.exists():
        pytest.skip(f"{QUESTIONS} is absent (the bundled TruthfulQA questions)")
    return str(QUESTIONS)


def test_decontaminate_on_ray_matches_local(ray_cluster, inputs, questions, tmp_path):
    from notus_data.jobs.decontaminate import decontaminate

    local = decontaminate(inputs["shards"], tmp_path / "local.parquet", benchmark_file=questions)
    ray = decontaminate(
        inputs["shards"], tmp_path / "ray.parquet", benchmark_file=questions, batch_size=70, engine="ray"
    )
    assert_same_files(tmp_path / "local.parquet", tmp_path / "ray.parquet")
    assert_same_files(tmp_path / "local.decontamination.parquet", tmp_path / "ray.decontamination.parquet")
    assert counts(ray) == counts(local)
    assert local.dropped["decontaminated"] > 0 and ray.info["engine"]["chunks"] > 5


def test_decontaminate_on_ray_of_jsonl_pairs_with_a_prebuilt_index(ray_cluster, inputs, questions, tmp_path):
    from notus_data.decontamination import DecontaminateOptions, load_index
    from notus_data.jobs.decontaminate import decontaminate

    pairs = tmp_path / "pairs.jsonl"
    binarize(inputs["single"], pairs, format="h4")
    index, _ = load_index(DecontaminateOptions(benchmark_file=questions))
    local = decontaminate(
        pairs, tmp_path / "local.jsonl", index=index, dry_run=True, benchmark_file=questions
    )
    ray = decontaminate(
        pairs, tmp_path / "ray.jsonl", index=index, dry_run=True, benchmark_file=questions, batch_size=300,
        engine="ray",
    )  # fmt: skip
    assert not (tmp_path / "ray.jsonl").exists()
    assert_same_files(tmp_path / "local.decontamination.jsonl", tmp_path / "ray.decontamination.jsonl")
    assert counts(ray) == counts(local) and local.dropped["decontaminated"] > 0


@pytest.mark.parametrize("which", ["single", "shards"])
def test_binarize_with_decontamination_on_ray_matches_local(ray_cluster, inputs, questions, tmp_path, which):
    from notus_data.jobs.binarize import CurationOptions

    local = binarize(inputs[which], tmp_path / "local.parquet", benchmark_file=questions, strategy="zephyr")
    ray = binarize_ray(
        inputs[which],
        tmp_path / "ray.parquet",
        BinarizeOptions(strategy="zephyr"),
        curation=CurationOptions(benchmark_file=questions),
        batch_size=110,
    )
    assert_same_run(tmp_path / "local.parquet", local, tmp_path / "ray.parquet", ray)
    assert_same_files(tmp_path / "local.decontamination.parquet", tmp_path / "ray.decontamination.parquet")
    assert local.dropped["decontaminated"] > 0 and ray.steps["decontaminate"]["questions"] > 800


def test_a_shared_object_is_fetched_once_per_process(ray_cluster):
    from notus_data.engines.ray.work import shared

    ref = ray_cluster.put({"index": list(range(10))})
    assert shared(ref) is shared(ref)
    assert shared(ref) == {"index": list(range(10))}
    assert shared("not a reference") == "not a reference"


# ------------------------------------------------------------------------------------- without Ray


def test_without_ray_the_engine_fails_with_the_install_line(inputs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'notus-data\[ray\]'"):
        binarize(inputs["single"], tmp_path / "x.parquet", engine="ray")
    assert not (tmp_path / "x.parquet").exists()


def test_chunks_cover_every_row_once_in_input_order(tmp_path):
    table = pa.table({"a": list(range(100))})
    pq.write_table(table.slice(0, 45), tmp_path / "a.parquet", row_group_size=10)
    pq.write_table(table.slice(45, 0), tmp_path / "b.parquet")
    pq.write_table(table.slice(45), tmp_path / "c.parquet", row_group_size=40)
    files = [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"]
    chunks = plan_chunks(files, target_rows=25)
    assert [(Path(c.path).name, c.row_groups, c.start, c.rows) for c in chunks] == [
        ("a.parquet", (0, 1), 0, 20),
        ("a.parquet", (2, 3, 4), 20, 25),  # never across files; the empty file gives no chunk
        ("c.parquet", (0,), 45, 40),  # a row group larger than the target is a chunk of its own
        ("c.parquet", (1,), 85, 15),
    ]
    read = [
        pq.ParquetFile(c.path).read_row_groups(list(c.row_groups)).column("a").to_pylist() for c in chunks
    ]
    assert sum(read, []) == list(range(100))
    assert Chunk.from_item(chunks[1].to_item()) == chunks[1]


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SchemaError, match=r"x\.parquet: not a readable parquet file"):
        plan_chunks([tmp_path / "x.parquet"], target_rows=10)


def _part(start: int, table: pa.Table) -> BatchResult:
    part = Report("binarize")
    part.rows_in = part.rows_with_pairs = part.rows_out = table.num_rows
    return BatchResult(start, table.num_rows, table, {}, part, {})


def test_results_are_put_back_in_input_order_whatever_order_they_come_in():
    tables = {start: pa.table({"x": list(range(start, start + 10))}) for start in (0, 10, 20, 30)}
    rows = {start: result_row(start, 10, _part(start, tables[start])) for start in tables}
    blocks = [pa.concat_tables([rows[20], rows[0]]), rows[30], rows[10]]
    got = list(in_order(blocks, 0, 40))
    assert [r.start for r in got] == [0, 10, 20, 30]
    assert pa.concat_tables([r.result.main for r in got]).column("x").to_pylist() == list(range(40))
    with pytest.raises(AssertionError, match="cover rows 0..29 of 0..39"):
        list(in_order([rows[0], rows[10], rows[20]], 0, 40))


def test_an_error_result_is_raised_when_its_turn_comes():
    error = result_row(10, 0, error=NotusDataError("shard 2: bad"))
    blocks = [error, result_row(0, 10, _part(0, pa.table({"x": list(range(10))})))]
    seen = []
    with pytest.raises(NotusDataError, match="shard 2: bad"):
        for result in in_order(blocks, 0, 20):
            seen.append(result.start)
    assert seen == [0]


def test_a_chunk_that_does_not_hold_the_rows_its_footer_announced_fails_in_order(tmp_path):
    from notus_data.engines.ray.work import process_chunk
    from notus_data.io.sources import load_ultrafeedback
    from notus_data.pipeline import Pipeline
    from notus_data.steps.binarize import BinarizeStep
    from notus_data.steps.score import ScoreStep

    source = write_parquet(tmp_path / "uf.parquet", 50, seed=1, row_group_size=50)
    item = Chunk(str(source), (0,), 0, 80, "uf.parquet").to_item()  # 80 announced, 50 there
    work = Pipeline("binarize", load_ultrafeedback(source), [ScoreStep(), BinarizeStep()]).work()
    results = [pa.concat_tables(process_chunk(item, work, batch_size=20))]
    seen = []
    with pytest.raises(SchemaError, match=r"uf\.parquet: row group\(s\) \[0\] held 50 rows, not the 80"):
        for result in in_order(results, 0, 80):
            seen.append((result.start, result.rows))
    assert seen == [(0, 20), (20, 20), (40, 10)]


def test_flag_and_decontaminate_take_the_engine_keyword_and_option(ray_cluster, inputs, questions, tmp_path):
    from click.testing import CliRunner

    from notus_data.cli import main
    from notus_data.jobs.decontaminate import decontaminate
    from notus_data.jobs.flag import flag

    flag(inputs["shards"], tmp_path / "flag-local.parquet")
    flag(inputs["shards"], tmp_path / "flag-ray.parquet", engine="ray", batch_size=200)
    assert_same_files(tmp_path / "flag-local.parquet", tmp_path / "flag-ray.parquet")
    decontaminate(inputs["shards"], tmp_path / "dec-local.parquet", benchmark_file=questions)
    result = CliRunner().invoke(
        main,
        [
            "decontaminate",
            str(inputs["shards"]),
            str(tmp_path / "dec-ray.parquet"),
            "--benchmark-file",
            questions,
            "--engine",
            "ray",
            "--quiet",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert_same_files(tmp_path / "dec-local.parquet", tmp_path / "dec-ray.parquet")


# ------------------------------------------------------------------------------------ every job on Ray

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ultrafeedback-sample.parquet"


@pytest.mark.parametrize(("recipe", "which", "extra"), [("notus-cleaned", "shards", {}),
                                                        ("zephyr", "single", {"plots": True}),
                                                        ("multi-binarized", "jsonl", {"batch_size": 150})])  # fmt: skip
def test_a_recipe_on_ray_writes_the_same_folder(
    ray_cluster, inputs, questions, tmp_path, recipe, which, extra
):
    from notus_data.recipes import run

    source = write_jsonl(tmp_path / "uf.jsonl", 500, seed=4) if which == "jsonl" else inputs[which]
    options = {"input": str(source), "benchmark_file": questions, "plots": False, **extra}
    if recipe == "multi-binarized":
        options.pop("benchmark_file")
    local = run(recipe, output=tmp_path / "local", **options)
    ray = run(recipe, output=tmp_path / "ray", engine="ray", num_blocks=3, **options)
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
    assert counts(ray) == counts(local) and local.rows_out > 0
    assert ray.info["engine"]["read"].startswith("driver" if which == "jsonl" else "workers")


def test_review_decisions_and_compare_on_ray(ray_cluster, inputs, tmp_path):
    from notus_data.jobs.compare import compare
    from notus_data.jobs.flag import flag

    flag(inputs["single"], tmp_path / "flags.parquet")
    flagged = pq.read_table(tmp_path / "flags.parquet").slice(0, 40)
    decisions = pa.table(
        {
            "prompt_id": flagged.column("prompt_id"),
            "completion_index": flagged.column("completion_index"),
            "decision": ["correct" if i % 2 else "discard" for i in range(flagged.num_rows)],
            "corrected_score": pa.array(
                [1.0 if i % 2 else None for i in range(flagged.num_rows)], pa.float64()
            ),
        }
    )
    pq.write_table(decisions, tmp_path / "decisions.parquet")
    options = {"decisions": tmp_path / "decisions.parquet", "strategy": "zephyr"}
    local = binarize(inputs["shards"], tmp_path / "local.parquet", **options)
    ray = binarize(inputs["shards"], tmp_path / "ray.parquet", engine="ray", batch_size=100, **options)
    assert_same_run(tmp_path / "local.parquet", local, tmp_path / "ray.parquet", ray)
    assert (tmp_path / "ray.changes.jsonl").read_bytes() == (tmp_path / "local.changes.jsonl").read_bytes()
    assert local.steps["decisions"]["score_corrected"] == 20 and local.steps["decisions"]["unmatched"] == 0
    a = compare(inputs["shards"], b="best-vs-worst")
    b = compare(inputs["shards"], b="best-vs-worst", engine="ray", batch_size=200)
    assert a.to_dict() == b.to_dict() and a.both > 0


def test_streaming_and_in_memory_inputs_run_on_ray(ray_cluster, tmp_path):
    import datasets

    table = pq.read_table(SAMPLE)
    local = binarize(SAMPLE, tmp_path / "local.parquet")
    for data in (datasets.Dataset(table).to_iterable_dataset(num_shards=2), table):
        pairs, report = binarize(data, engine="ray", batch_size=90)
        assert pairs.data.table.equals(pq.read_table(tmp_path / "local.parquet"))
        assert report.info["engine"]["read"] == "driver (not parquet)" and report.rows_out == local.rows_out
