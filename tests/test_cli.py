"""The CLI: thin wrappers with the library's keyword names, one-line errors, quick --help."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import pyarrow.parquet as pq
from click.testing import CliRunner
from ufrows import rated, write_parquet

from notus_data.cli import COMMANDS, main
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions
from notus_data.jobs.binarize import CurationOptions, binarize
from notus_data.sources import SourceOptions
from notus_data.steps.binarize import BinarizeOptions
from notus_data.steps.compare import CompareOptions

CLI_ONLY = {"input", "output", "quiet", "progress"}


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)), catch_exceptions=False)


def test_every_command_has_help():
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
        sub = run(name, "--help")
        assert sub.exit_code == 0, name
        assert (
            "Usage: main " + name in sub.output
            or f"Usage: notus-data {name}" in sub.output
            or "Usage:" in sub.output
        )


def test_help_does_not_import_heavy_packages():
    code = (
        "import sys; from notus_data.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pyarrow', 'datasets', 'pandas', 'torch', 'argilla', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def option_names(command):
    return {p.name for p in command.params}


def test_binarize_and_compare_options_are_the_library_keywords():
    binarize_cmd = importlib.import_module("notus_data.cli.binarize").binarize_command
    fields = {
        f.name
        for cls in (BinarizeOptions, CurationOptions, SourceOptions, LoadOptions, EngineOptions)
        for f in dataclasses.fields(cls)
    }
    assert option_names(binarize_cmd) - CLI_ONLY == fields
    compare_cmd = importlib.import_module("notus_data.cli.binarize").compare_command
    fields = {f.name for cls in (CompareOptions, LoadOptions, EngineOptions) for f in dataclasses.fields(cls)}
    assert option_names(compare_cmd) - CLI_ONLY == fields - {"ray_write"}


def test_cli_output_equals_the_library_output(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", [rated("a", [5, 3, 4]), rated("b", [4, 4])])
    result = run(
        "binarize", path, tmp_path / "cli.parquet", "--strategy", "best-vs-all", "--seed", "3", "--quiet"
    )
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1] == (
        f"2 pairs written to {tmp_path / 'cli.parquet'} (report: {tmp_path / 'cli.report.json'})"
    )
    binarize(path, tmp_path / "lib.parquet", strategy="best-vs-all", seed=3)
    assert (tmp_path / "cli.parquet").read_bytes() == (tmp_path / "lib.parquet").read_bytes()
    assert pq.read_table(tmp_path / "cli.parquet").num_rows == 2


def test_cli_prints_the_report_table(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", [rated("a", [5, 3]), rated("b", [4, 4])])
    result = run("binarize", path, tmp_path / "o.jsonl", "--format", "h4")
    assert result.exit_code == 0
    assert "no pair: tie" in result.output and "rows in" in result.output


def test_compare_command(tmp_path):
    path = write_parquet(
        tmp_path / "in.parquet",
        [rated("a", [5, 3], overall=[6.0, 9.0]), rated("b", [5, 3], overall=[9.0, 6.0])],
    )
    result = run("compare", path, "--quiet")
    assert result.exit_code == 0
    assert result.output.strip().splitlines()[-1] == "chosen differs in 1 of 2 prompts (50.0%)"


def test_user_errors_are_one_line_without_traceback(tmp_path):
    cases = [
        (["binarize", tmp_path / "missing.parquet", tmp_path / "o.parquet"], "no such file or folder"),
        (
            ["binarize", tmp_path / "empty", tmp_path / "o.parquet"],
            "neither parquet files nor a save_to_disk dataset",
        ),
        (["binarize", tmp_path / "x.parquet", tmp_path / "o.csv"], "unknown output type '.csv'"),
        (
            ["binarize", tmp_path / "x.parquet", tmp_path / "o.parquet", "--weights", "1,2"],
            "give one weight per aspect",
        ),
        (
            ["binarize", tmp_path / "x.parquet", tmp_path / "o.parquet", "--ray-address", "ray://h:1"],
            "--engine ray",
        ),
    ]
    write_parquet(tmp_path / "x.parquet", [rated("a", [5, 3])])
    (tmp_path / "empty").mkdir()
    for args, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "notus_data.cli", *map(str, args)], capture_output=True, text=True
        )
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def test_bad_choice_is_a_usage_error(tmp_path):
    result = run("binarize", "in.parquet", "out.parquet", "--strategy", "best")
    assert result.exit_code == 2
    assert "Invalid value for '--strategy'" in result.output
