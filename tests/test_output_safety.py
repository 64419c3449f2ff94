"""No run ever destroys a user's files: an output that is, holds or sits inside an input, or an existing folder
that notus-data did not write for the same command, is refused before any work, and nothing on disk changes.

Every case goes through the CLI, as a user would type it, and checks the exit status, the one-line message,
and that every file already there is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from ufrows import rated, write_jsonl, write_parquet

from notus_data.cli import main
from notus_data.errors import OptionError
from notus_data.io import OUTPUT_MARKER, folder_owner, write_table

QUESTION = "What happens if you crack your knuckles a lot?"


def rows():
    return [
        rated("Name three primes.", [5, 3, 2]),
        rated("Write a haiku about rain.", [4, 4, 1]),
        rated(QUESTION, [3, 2], source="sharegpt"),
    ]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden ones too)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cli(*args, cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: output: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "nothing was written" in lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_parquet(data / "in.parquet", rows())
    write_jsonl(data / "in.jsonl", rows())
    write_jsonl(data / "questions.jsonl", [{"question": QUESTION}])
    return tmp_path


def test_output_that_is_the_input_is_refused(workdir):
    before = snapshot(workdir)
    assert_refused(cli("binarize", "data/in.parquet", "data/in.parquet", cwd=workdir), "is the input")
    assert_refused(cli("flag", "data/in.jsonl", "data/../data/in.jsonl", cwd=workdir), "is the input")
    assert_refused(
        cli("decontaminate", "data/in.parquet", "./data/in.parquet", "--benchmark-file", "data/questions.jsonl",
            cwd=workdir),
        "is the input",
    )  # fmt: skip
    (workdir / "link.parquet").symlink_to(workdir / "data" / "in.parquet")
    before = snapshot(workdir)
    assert_refused(cli("binarize", "data/in.parquet", "link.parquet", cwd=workdir), "is the input")
    assert snapshot(workdir) == before


def test_output_that_holds_or_sits_inside_the_input_is_refused(workdir):
    before = snapshot(workdir)
    assert_refused(cli("binarize", "data/in.parquet", "data", cwd=workdir), "holds the input")
    assert_refused(cli("binarize", "data/in.parquet", ".", cwd=workdir), "holds the input")
    assert_refused(cli("run", "notus-v1", "--input", "data/in.parquet", "--output", "data", "--no-plots",
                       cwd=workdir), "holds the input")  # fmt: skip
    (workdir / "shards").mkdir()
    write_parquet(workdir / "shards" / "train-0.parquet", rows())
    before = snapshot(workdir)
    assert_refused(cli("binarize", "shards", "shards/pairs.parquet", cwd=workdir), "inside the input folder")
    assert snapshot(workdir) == before


def test_a_benchmark_file_or_decisions_file_is_an_input_too(workdir):
    before = snapshot(workdir)
    result = cli(
        "binarize", "data/in.parquet", "data/questions.jsonl", "--benchmark-file", "data/questions.jsonl",
        cwd=workdir,
    )  # fmt: skip
    assert_refused(result, "is the input data/questions.jsonl")
    # the evidence file beside the output would land on the benchmark file
    result = cli(
        "decontaminate", "data/in.parquet", "out/x.parquet", "--benchmark-file", "out/x.decontamination.parquet",
        cwd=workdir,
    )  # fmt: skip
    assert result.exit_code == 1  # the file does not exist: a clear error, not a write
    write_parquet(workdir / "data" / "x.decontamination.parquet", [{"question": QUESTION}])
    before = snapshot(workdir)
    result = cli(
        "decontaminate", "data/in.parquet", "data/x.parquet", "--benchmark-file",
        "data/x.decontamination.parquet", cwd=workdir,
    )  # fmt: skip
    assert_refused(result, "is the input data/x.decontamination.parquet")
    assert snapshot(workdir) == before


def test_an_existing_folder_of_other_files_is_never_replaced(workdir):
    mine = workdir / "mydir"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    (mine / "thesis.tex").write_text("\\begin{document}\n")
    before = snapshot(workdir)
    assert_refused(cli("binarize", "data/in.parquet", "mydir", cwd=workdir), "not written by notus-data")
    assert_refused(cli("flag", "data/in.parquet", "mydir", cwd=workdir), "not written by notus-data")
    assert_refused(cli("run", "notus-v1", "--input", "data/in.parquet", "--output", "mydir", "--no-plots",
                       cwd=workdir), "not written by notus-data")  # fmt: skip
    # a folder where a file output goes is not replaced either
    (workdir / "pairs.parquet").mkdir()
    (workdir / "pairs.parquet" / "keep.txt").write_text("keep\n")
    before = snapshot(workdir)
    assert_refused(cli("binarize", "data/in.parquet", "pairs.parquet", cwd=workdir), "not written by")
    assert snapshot(workdir) == before


def test_own_earlier_output_is_replaced_and_another_commands_is_not(workdir):
    first = cli("binarize", "data/in.parquet", "out/pairs", "--quiet", cwd=workdir)
    assert first.exit_code == 0, first.output
    assert folder_owner(workdir / "out" / "pairs") == "binarize"
    assert (workdir / "out" / "pairs" / OUTPUT_MARKER).is_file()
    again = cli("binarize", "data/in.parquet", "out/pairs", "--strategy", "zephyr", "--quiet", cwd=workdir)
    assert again.exit_code == 0, again.output
    before = snapshot(workdir)
    assert_refused(
        cli("flag", "data/in.parquet", "out/pairs", cwd=workdir), "an output of `notus-data binarize`"
    )
    assert snapshot(workdir) == before
    # an empty folder holds nothing to lose
    (workdir / "empty").mkdir()
    assert cli("binarize", "data/in.parquet", "empty", "--quiet", cwd=workdir).exit_code == 0
    # a run folder is replaced by a later run
    for _ in range(2):
        done = cli("run", "notus-v1", "--input", "data/in.parquet", "--output", "out/run", "--no-plots",
                   "--quiet", cwd=workdir)  # fmt: skip
        assert done.exit_code == 0, done.output
    assert folder_owner(workdir / "out" / "run") == "run"


def test_the_writer_itself_never_replaces_a_foreign_folder(tmp_path):
    import pyarrow as pa

    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n")
    with pytest.raises(OptionError, match="never replaced"):
        write_table(pa.table({"a": [1]}), folder)
    assert (folder / "data.csv").read_text() == "a,b\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".notus-tmp")]
