"""Length bias: the stats against a plain reference, their merging, and the report and card sections."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest
from ufrows import rated, write_parquet

from notus_data.jobs.binarize import binarize
from notus_data.length import LengthStats


def reference(chosen: list[str], rejected: list[str]) -> dict:
    c = np.array([len(t) for t in chosen], dtype=float)
    r = np.array([len(t) for t in rejected], dtype=float)
    d = c - r
    return {
        "pairs": len(c),
        "chosen_longer": int((d > 0).sum()),
        "equal": int((d == 0).sum()),
        "chosen_mean": round(c.mean(), 4),
        "rejected_mean": round(r.mean(), 4),
        "chosen_median": float(np.median(c)),
        "rejected_median": float(np.median(r)),
        "mean_difference": round(d.mean(), 4),
        "cohens_d": round(d.mean() / d.std(ddof=1), 4),
    }


def texts(n: int, seed: int, longer: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["é" * (rng.randint(0, 300) + longer) for _ in range(n)]  # characters, not bytes


def test_stats_match_a_plain_reference_overall_and_by_source():
    chosen, rejected = texts(101, 1, longer=40), texts(101, 2)
    source = ["a" if i % 3 else "b" for i in range(101)]
    stats = LengthStats()
    stats.add(pa.array(source), pa.array(chosen), pa.array(rejected))
    got = stats.to_dict()
    want = reference(chosen, rejected)
    assert {k: got[k] for k in want} == want
    assert got["chosen_longer_share"] == round(want["chosen_longer"] / 101, 4)
    for name in ("a", "b"):
        rows = [i for i, s in enumerate(source) if s == name]
        sub = reference([chosen[i] for i in rows], [rejected[i] for i in rows])
        assert {k: got["by_source"][name][k] for k in sub} == sub
    assert got["cohens_d"] > 0  # the chosen were made longer
    hist = stats.histogram()
    assert sum(hist["chosen"]) == sum(hist["rejected"]) == 101
    assert len(hist["edges"]) == len(hist["chosen"]) + 1


def test_merging_in_any_grouping_gives_the_same_stats():
    chosen, rejected = texts(60, 3), texts(60, 4)
    source = pa.array([("x", "y", None)[i % 3] for i in range(60)])
    whole = LengthStats()
    whole.add(source, pa.array(chosen), pa.array(rejected))
    parts = []
    for lo, hi in ((0, 7), (7, 30), (30, 60)):
        part = LengthStats()
        part.add(source[lo:hi], pa.array(chosen[lo:hi]), pa.array(rejected[lo:hi]))
        parts.append(part)
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[2].merge(parts[0].merge(parts[1]))
    assert left.to_dict() == right.to_dict() == whole.to_dict()
    assert "unknown" in whole.to_dict()["by_source"]


def test_no_pairs_and_constant_differences():
    empty = LengthStats().to_dict()
    assert empty["pairs"] == 0 and empty["cohens_d"] is None and empty["chosen_median"] is None
    same = LengthStats()
    same.add(pa.array(["s", "s"]), pa.array(["ab", "cd"]), pa.array(["a", "c"]))
    assert same.to_dict()["cohens_d"] is None  # every difference is 1: no spread, no effect size


def rows_with_lengths():
    rows = []
    for i in range(30):
        long_first = ["x" * (200 + i), "y" * 20, "z" * 50]
        rows.append(rated(f"q{i}", [5, 2, 3], source="s1" if i % 2 else "s2", texts=long_first))
    return rows


@pytest.mark.parametrize("batch_size", [1, 7])
def test_binarize_report_has_the_length_section_whatever_the_batch_size(tmp_path, batch_size):
    path = write_parquet(tmp_path / "in.parquet", rows_with_lengths())
    base = binarize(path, tmp_path / "a.parquet", strategy="best-vs-worst").steps["binarize"]["length"]
    other = binarize(path, tmp_path / "b.parquet", strategy="best-vs-worst", batch_size=batch_size)
    assert other.steps["binarize"]["length"] == base
    assert base["pairs"] == 30 and base["chosen_longer"] == 30 and base["chosen_longer_share"] == 1.0
    assert set(base["by_source"]) == {"s1", "s2"}
    saved = json.loads((tmp_path / "b.report.json").read_text())
    assert saved["steps"]["binarize"]["length"]["chosen_median"] == base["chosen_median"]


def test_card_has_the_length_section(tmp_path):
    from notus_data.recipes.runner import run

    out = tmp_path / "run"
    run("notus-v1", input=str(write_parquet(tmp_path / "in.parquet", rows_with_lengths())), output=out,
        plots=True, decontaminate=False, splits="train")  # fmt: skip
    card = (out / "README.md").read_text()
    assert "## Length of chosen and rejected responses" in card
    assert "**30 of 30 pairs (100.0%)**" in card
    assert "| s1 | 15 |" in card
    assert "![Length of chosen and rejected responses](plots/length.png)" in card
    assert (out / "plots" / "length.png").read_bytes().startswith(b"\x89PNG")


def test_the_terminal_report_has_the_length_line(tmp_path):
    import io

    from rich.console import Console

    path = write_parquet(tmp_path / "in.parquet", rows_with_lengths())
    report = binarize(path, tmp_path / "a.parquet", strategy="best-vs-worst")
    out = io.StringIO()
    report.render(Console(file=out, width=200))
    assert "length: chosen longer in 30 of 30 pairs (100.0%)" in out.getvalue()
    assert "Cohen's d" in out.getvalue()


@pytest.mark.parametrize("fmt", ["notus", "h4", "llama-factory"])
def test_convert_measures_the_same_lengths_as_the_binarize_that_made_the_pairs(tmp_path, fmt):
    from notus_data.jobs.convert import convert

    path = write_parquet(tmp_path / "in.parquet", rows_with_lengths())
    pairs = tmp_path / f"pairs.{fmt}.parquet"
    made = binarize(path, pairs, strategy="best-vs-all", format=fmt).steps["binarize"]["length"]
    converted = convert(pairs, tmp_path / "out.jsonl", format="trl", batch_size=7)
    got = converted.steps["convert"]["length"]
    assert got == (
        made if fmt != "h4" else {**made, "by_source": got["by_source"]}
    )  # h4 has no source column
    assert got["pairs"] == 60 == converted.rows_out
