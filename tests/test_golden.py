"""Every job, strategy, format, output kind and recipe gives the bytes and the report counts recorded in
tests/golden/golden.json (see tests/golden_cases.py, which also records them).

Parquet files, PNG plots and the card's YAML depend on library versions; where this environment's versions of
those libraries differ from the recorded ones (CI installs the recorded ones from scripts/constraints.txt),
those files are not compared byte for byte, and the test says so; every other file and every count still is.
"""

from __future__ import annotations

import json

import pytest
from golden_cases import CASES, GOLDEN, make_inputs, run_case, versions

VERSION_DEPENDENT = (".parquet", ".png", "README.md", ".arrow", "dataset_info.json", "state.json")
GOLDEN_DATA = json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden")
    return folder, make_inputs(folder)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_bytes_and_counts_as_recorded(case, work):
    folder, paths = work
    expected = GOLDEN_DATA["cases"][case.name]
    got = run_case(case, paths, folder)
    assert got.get("report") == expected.get("report"), f"{case.name}: the report's counts changed"
    assert sorted(got["files"]) == sorted(expected["files"]), f"{case.name}: other files were written"
    same_versions = versions() == GOLDEN_DATA["versions"]
    changed = [
        name
        for name, digest in got["files"].items()
        if digest != expected["files"][name] and (same_versions or not name.endswith(VERSION_DEPENDENT))
    ]
    assert not changed, f"{case.name}: these files changed: {changed}"
    if not same_versions:
        pytest.skip(
            f"bytes of parquet, PNG and card files not compared: recorded with {GOLDEN_DATA['versions']}, "
            f"this environment has {versions()} (install with -c scripts/constraints.txt)"
        )


def test_every_case_is_recorded():
    assert sorted(c.name for c in CASES) == sorted(GOLDEN_DATA["cases"])
