"""A corpus of bad inputs, bad options and faults, run against every command through the CLI, as a new user meets
them. Every case ends in output that is right and complete, or in one clear line and nothing changed on disk:

- the exit status is the expected one, and no traceback is printed;
- the message names the place (file, row, field, option) and the case's own words;
- every file that was there before is byte for byte what it was (inputs are never touched);
- no temporary file is left anywhere;
- where the run succeeds, its report's counts add up and every problem found is counted with its row.

Fault tests: a run killed with SIGKILL leaves only its temporary file, which the next run sweeps (and says so);
a full disk and a read-only file system (small tmpfs mounts, as root) end in one line and leave nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ufrows import completion, rated, row, write_jsonl, write_parquet

from notus_data.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What happens if you crack your knuckles a lot?"


def good_rows():
    return [
        rated("Name three primes.", [5, 3, 2]),
        rated("Write a haiku.", [4, 4, 1]),
        rated(QUESTION, [3, 2]),
    ]


def damaged_parquet(path: Path) -> Path:
    """A parquet file whose footer is intact but whose data pages are not."""
    table = pa.Table.from_pylist(good_rows() * 200)
    pq.write_table(table, path, compression="snappy", row_group_size=200)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for i in range(8, len(data) - footer - 8, 97):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    return path


def setup_files(work: Path) -> None:
    """The files every case may refer to (under ``work/in``)."""
    src = work / "in"
    src.mkdir()
    write_parquet(src / "uf.parquet", good_rows())
    write_jsonl(src / "uf.jsonl", good_rows())
    write_jsonl(src / "questions.jsonl", [{"question": QUESTION}])
    (src / "empty.parquet").write_bytes(b"")
    (src / "junk.parquet").write_bytes(b"this is not parquet at all")
    damaged_parquet(src / "damaged.parquet")
    (src / "uf.csv").write_text("instruction,completions\nx,y\n")
    (src / "broken.jsonl").write_text(
        '{"instruction": "a", "completions": []}\n{"instruction": "b", "compl\n'
    )
    (src / "types.jsonl").write_text(
        '{"instruction": "a", "completions": []}\n' * 3 + '{"instruction": 7, "completions": []}\n'
    )
    write_jsonl(src / "noinstruction.jsonl", [{"prompt": "x", "completions": []}])
    shards = src / "shards"
    shards.mkdir()
    write_parquet(shards / "train-00000-of-00002.parquet", good_rows())
    pq.write_table(pa.table({"source": ["s"], "instruction": ["x"], "completions": ["not a list"]}),
                   shards / "train-00001-of-00002.parquet")  # fmt: skip
    mixed = src / "mixed"
    mixed.mkdir()
    write_parquet(mixed / "part-0.parquet", good_rows())
    write_jsonl(mixed / "more.jsonl", good_rows())
    (mixed / "notes.txt").write_text("my notes\n")
    (src / "nothing").mkdir()
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in good_rows()]
    lines[1] = lines[1].replace(b'"Write a haiku.', b'"Write a \xff\xfe haiku.', 1)
    (src / "badtext.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    bad_ratings = [
        row("Rate me.", [completion("a", ("seven", "4", "N/A", "11")), completion("b", ("2",) * 4)])
    ]
    write_jsonl(src / "ratings.jsonl", bad_ratings + good_rows())
    no_critique = [dict(r, completions=[{k: v for k, v in c.items() if k != "critique"} for c in r["completions"]])
                   for r in good_rows()]  # fmt: skip
    write_parquet(src / "nocritique.parquet", no_critique)
    pq.write_table(pa.table({"prompt_id": ["x"], "decision": ["confirm"]}), src / "decisions.parquet")
    (src / "broken.yaml").write_text("binarize: [unclosed\n")
    write_jsonl(src / "noquestion.jsonl", [{"id": 1, "n": 2}])
    mine = work / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    (work / "afile").write_text("a file, not a folder\n")


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    words: tuple[str, ...] = ()
    check: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def report_adds_up(path: str, *problems: str) -> Callable[[Path], None]:
    def check(work: Path) -> None:
        report = json.loads((work / path).read_text())
        assert report["rows_in"] == report["rows_with_pairs"] + sum(report["dropped"].values())
        for kind in problems:
            assert report["problems"]["counts"].get(kind, 0) > 0, (kind, report["problems"])
            example = next(e for e in report["problems"]["examples"] if e["kind"] == kind)
            assert isinstance(example["row_index"], int) and example["field"]

    return check


def readable_by_pandas(path: str) -> Callable[[Path], None]:
    def check(work: Path) -> None:
        frame = pq.read_table(work / path).to_pandas()
        assert len(frame) and "\ufffd" in "".join(map(str, frame.iloc[:, 1]))
        report_adds_up(path.replace(".parquet", ".report.json"), "invalid_utf8")(work)

    return check


B, D, F, C, R = ["binarize"], ["decontaminate"], ["flag"], ["compare"], ["run", "notus-v1", "--no-plots"]
Q = ["--benchmark-file", "in/questions.jsonl"]
CASES = [
    # inputs
    *[Case(f"{cmd[0]}-missing", [*cmd, "in/missing.parquet", "out/x.parquet"], 1, ("in/missing.parquet", "no such file"))
      for cmd in (B, F, D + Q)],  # fmt: skip
    Case("compare-missing", [*C, "in/missing.parquet"], 1, ("no such file",)),
    Case("run-missing", [*R, "--input", "in/missing.parquet", "--output", "out/r"], 1, ("no such file",)),
    Case("empty-parquet", [*B, "in/empty.parquet", "out/x.parquet"], 1, ("in/empty.parquet", "not a readable parquet")),
    Case("junk-parquet", [*F, "in/junk.parquet", "out/x.parquet"], 1, ("in/junk.parquet", "not a readable parquet")),
    Case("damaged-parquet", [*B, "in/damaged.parquet", "out/x.parquet"], 1, ("in/damaged.parquet", "damaged")),
    Case("damaged-parquet-rows", [*D, *Q, "in/damaged.parquet", "out/x.parquet"], 1, ("in/damaged.parquet", "damaged")),
    Case("csv-input", [*B, "in/uf.csv", "out/x.parquet"], 1, ("unknown file type '.csv'",)),
    Case("broken-jsonl", [*B, "in/broken.jsonl", "out/x.parquet"], 1, ("in/broken.jsonl", "JSON")),
    Case("type-change", [*B, "in/types.jsonl", "out/x.parquet"], 1, ("field 'instruction' changes type at row 3",)),
    Case("no-instruction", [*F, "in/noinstruction.jsonl", "out/x.parquet"], 1, ("field 'instruction'", "is missing")),
    Case("wrong-type-shard", [*B, "in/shards", "out/x.parquet"], 1,
         ("train-00001-of-00002.parquet", "field 'completions' has type string")),
    Case("mixed-folder", [*B, "in/mixed", "out/x.parquet"], 1, ("more.jsonl", "notes.txt", "would not be read")),
    Case("empty-folder", [*B, "in/nothing", "out/x.parquet"], 1, ("neither parquet files",)),
    Case("hub-offline", [*B, "someone/no-such-set", "out/x.parquet"], 1, ("cannot be reached", "local file"),
         env={"HF_ENDPOINT": "http://127.0.0.1:9"}),
    Case("path-like-missing", [*B, "in/no-such-input", "out/x.parquet"], 1, ("in/no-such-input: no such file",)),
    Case("no-critique", [*F, "in/nocritique.parquet", "out/x.parquet"], 1, ("completions[].critique", "--rules")),
    Case("no-question-column", [*D, "in/uf.parquet", "out/x.parquet", "--benchmark-file", "in/noquestion.jsonl"], 1,
         ("no column 'question'",)),
    Case("bad-decisions", [*B, "in/uf.parquet", "out/x.parquet", "--decisions", "in/decisions.parquet"], 1,
         ("in/decisions.parquet", "missing column")),
    Case("unknown-recipe", ["run", "notus-v9", "--input", "in/uf.parquet"], 1, ("notus-v9", "bundled recipe")),
    Case("broken-yaml", ["run", "in/broken.yaml", "--input", "in/uf.parquet"], 1, ("in/broken.yaml", "not valid YAML")),
    # handled by a stated rule: the run succeeds and counts what it did
    Case("invalid-utf8", [*B, "in/badtext.jsonl", "out/x.parquet"], 0, check=readable_by_pandas("out/x.parquet")),
    Case("invalid-utf8-jsonl-out", [*D, *Q, "in/badtext.jsonl", "out/x.jsonl"], 0,
         check=report_adds_up("out/x.report.json", "invalid_utf8")),
    Case("bad-ratings", [*B, "in/ratings.jsonl", "out/x.parquet"], 0,
         check=report_adds_up("out/x.report.json", "invalid_rating")),
    # outputs
    Case("output-is-input", [*B, "in/uf.parquet", "in/uf.parquet"], 1, ("output: in/uf.parquet is the input",)),
    Case("output-holds-input", [*F, "in/uf.parquet", "in"], 1, ("holds the input",)),
    Case("output-foreign-folder", [*D, *Q, "in/uf.parquet", "mine"], 1, ("mine", "not written by notus-data")),
    Case("output-extension", [*B, "in/uf.parquet", "out/x.csv"], 1, ("unknown output type '.csv'",)),
    Case("output-under-a-file", [*B, "in/uf.parquet", "afile/x.parquet"], 1, ("afile", "not a folder")),
    Case("run-output-file", [*R, "--input", "in/uf.parquet", "--output", "out/r.parquet"], 1, ("looks like a file",)),
    # options
    Case("nan-margin", [*B, "in/uf.parquet", "out/x.parquet", "--min-margin", "nan"], 1, ("--min-margin", "nan")),
    Case("inf-disagreement", [*F, "in/uf.parquet", "out/x.parquet", "--disagreement", "inf"], 1, ("--disagreement",)),
    Case("word-weights", [*B, "in/uf.parquet", "out/x.parquet", "--weights", "a,b,c,d"], 1, ("--weights", "'a'")),
    Case("weights-count", [*B, "in/uf.parquet", "out/x.parquet", "--weights", "1,2"], 1, ("one weight per aspect",)),
    Case("zero-batch", [*B, "in/uf.parquet", "out/x.parquet", "--batch-size", "0"], 1, ("batch_size",)),
    Case("bad-strategy", [*B, "in/uf.parquet", "out/x.parquet", "--strategy", "best"], 2, ("'best'",)),
    Case("nan-test-fraction", [*R, "--input", "in/uf.parquet", "--output", "out/r", "--max-test-fraction", "nan"], 1,
         ("max_test_fraction",)),
    Case("ray-address-without-ray", [*B, "in/uf.parquet", "out/x.parquet", "--ray-address", "ray://h:1"], 1,
         ("--engine ray",)),
]  # fmt: skip


def snapshot(work: Path) -> dict[str, str]:
    return {
        str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(work.rglob("*"))
        if p.is_file() and "out" not in p.relative_to(work).parts
    }


def stray(work: Path) -> list[str]:
    return [str(p.relative_to(work)) for p in work.rglob("*") if p.name.startswith(".notus-tmp")]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-inputs")
    setup_files(folder)
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_bad_input_ends_in_one_line_and_nothing_changed(case, work, monkeypatch):
    monkeypatch.chdir(work)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    import notus_data.io.paths as paths

    monkeypatch.setattr(paths, "_HUB_STATE", {})
    shutil.rmtree(work / "out", ignore_errors=True)
    before = snapshot(work)
    result = CliRunner().invoke(main, case.args)
    output = result.output
    assert result.exit_code == case.code, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if case.code:
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1, output
        for words in case.words:
            assert words in errors[0], (words, errors[0])
        assert not (work / "out").exists() or not any((work / "out").iterdir()), list(
            (work / "out").iterdir()
        )
    else:
        case.check(work)
    assert snapshot(work) == before, "an input changed"
    assert stray(work) == []


# ------------------------------------------------------------------------------------------------ faults


def cli(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "notus_data.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def big_input(tmp_path_factory) -> Path:
    from notus_data import synthetic

    return synthetic.write_parquet(tmp_path_factory.mktemp("big") / "uf.parquet", 12_000, seed=1)


def test_a_killed_run_leaves_its_temporary_file_and_the_next_run_sweeps_it(big_input, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = cli("binarize", str(big_input), str(out / "pairs.jsonl"), "--batch-size", "256", cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not stray(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = stray(out)
    assert left and not (out / "pairs.jsonl").exists()  # killed mid-run: nothing finished-looking
    again = cli("binarize", str(big_input), str(out / "pairs.jsonl"), "--quiet", cwd=tmp_path)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert "Warning: removed" in err and left[0].split("/")[-1] in err
    assert stray(out) == [] and (out / "pairs.jsonl").exists()


def mounted(tmp_path: Path, options: str) -> Path:
    """A small tmpfs at tmp_path/mnt (as root); skips with the reason where mounting is not permitted."""
    point = tmp_path / "mnt"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}): the fault is not simulated"
        )
    return point


@pytest.fixture
def small_disk(tmp_path):
    point = mounted(tmp_path, "size=600k")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture
def read_only(tmp_path):
    point = mounted(tmp_path, "size=1m")
    subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.parametrize("args", [["decontaminate", "--benchmark-file", str(ROOT / "data/truthfulqa-questions.jsonl")],
                                  ["binarize", "--format", "cleaned"]])  # fmt: skip
def test_a_full_disk_is_one_line_and_leaves_nothing(big_input, small_disk, tmp_path, args):
    cmd, *options = args
    proc = cli(cmd, str(big_input), str(small_disk / "out.parquet"), *options, "--quiet", cwd=tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "disk is full" in err and str(small_disk) in err
    assert list(small_disk.iterdir()) == []  # no evidence file, no report, no temporary file


def test_a_read_only_destination_is_one_line(big_input, read_only, tmp_path):
    proc = cli("flag", str(big_input), str(read_only / "flags.parquet"), "--quiet", cwd=tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert "read-only" in err and str(read_only) in err and len(err.strip().splitlines()) == 1
