"""compare(): how often two binarizations choose a different response, overall and by source."""

from __future__ import annotations

import json

import pytest
from ufrows import rated, write_parquet

from notus_data.jobs.compare import compare


def test_counts_overall_and_by_source(tmp_path):
    rows = [
        # mean rating picks answer 0, overall_score picks answer 1: differs
        rated("a", [5, 3], overall=[6.0, 9.0], source="sharegpt"),
        # both pick answer 0
        rated("b", [5, 3], overall=[9.0, 6.0], source="sharegpt"),
        # both pick 1
        rated("c", [2, 4, 3], overall=[1.0, 8.0, 8.0], source="ultrachat"),
        # a tie on mean rating: notus gives no pair, zephyr does
        rated("d", [4, 4], overall=[5.0, 6.0], source="ultrachat"),
        # same text at different positions: the chosen index differs, the text does not
        rated("e", [5, 4], overall=[7.0, 8.0], source="ultrachat", texts=["same", "same"]),
    ]
    path = write_parquet(tmp_path / "in.parquet", rows)
    result = compare(path, output=tmp_path / "cmp.json")
    assert (result.rows, result.both, result.chosen_differs, result.chosen_text_differs) == (5, 4, 2, 1)
    assert (result.only_a, result.only_b, result.neither) == (0, 1, 0)
    assert result.rate == pytest.approx(0.5)
    saved = json.loads((tmp_path / "cmp.json").read_text())
    assert saved["by_source"] == {
        "sharegpt": {"both": 2, "chosen_differs": 1, "rate": 0.5},
        "ultrachat": {"both": 2, "chosen_differs": 1, "rate": 0.5},
    }
    assert saved["a"] == "notus (avg-rating)" and saved["b"] == "zephyr (overall-score)"


def test_same_binarization_never_differs(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", [rated(f"q{i}", [i % 5 + 1, 3, 2]) for i in range(30)])
    result = compare(path, a="best-vs-worst", b="notus")
    assert result.chosen_differs == 0 and result.both > 0
