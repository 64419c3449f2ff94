"""--max-length-ratio: the kernel against a plain loop over every strategy, the pairs it keeps, and the option
through binarize, run and the CLI."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ufrows import rated, write_parquet

from notus_data.cli import main
from notus_data.errors import OptionError
from notus_data.jobs.binarize import binarize
from notus_data.steps.binarize import STRATEGIES, BinarizeOptions, pair_indices


def reference(scores, length, u, strategy, ratio):
    """The rules of the module docstring, one row at a time (no filters but the ratio)."""
    pairs, reasons = [], []
    for i, row in enumerate(scores):
        ok = [j for j in range(len(row)) if not np.isnan(row[j])]
        if len(ok) < 2:
            reasons.append("too_few_completions")
            continue

        def passes(a, b, i=i):
            return not length[i, a] > ratio * length[i, b]

        if strategy == "all-pairs":
            found = [(a, b) for a in ok for b in ok if row[a] > row[b]]
            if not found:
                reasons.append("tie")
                continue
            kept = [(a, b) for a, b in found if passes(a, b)]
            reasons.append(None if kept else "length_ratio")
            pairs += [(i, a, b) for a, b in kept]
            continue
        top = max(row[j] for j in ok)
        c = next(j for j in ok if row[j] == top)
        if strategy in ("zephyr", "notus-drawties"):
            cands = [j for j in ok if j != c]
        else:
            cands = [j for j in ok if row[j] < top]
        if not cands:
            reasons.append("tie")
            continue
        passing = [j for j in cands if passes(c, j)]
        if not passing:
            reasons.append("length_ratio")
            continue
        if strategy == "best-vs-all":
            pairs += [(i, c, j) for j in passing]
        elif strategy == "best-vs-worst":
            low = min(row[j] for j in passing)
            pairs.append((i, c, next(j for j in passing if row[j] == low)))
        else:
            drawn = cands[min(int(np.floor(u[i] * len(cands))), len(cands) - 1)]
            r = next((j for j in passing if j >= drawn), passing[0])  # the next that passes, wrapping
            if strategy == "notus-drawties" and row[r] == top:
                reasons.append("tie")
                continue
            pairs.append((i, c, r))
        reasons.append(None)
    return pairs, reasons


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_kernel_matches_a_plain_loop(strategy):
    rng = np.random.default_rng(7)
    n, width = 400, 5
    scores = rng.integers(1, 5, size=(n, width)).astype(float)
    scores[rng.random((n, width)) < 0.15] = np.nan
    length = rng.integers(0, 60, size=(n, width))
    u = rng.random(n)
    options = BinarizeOptions(strategy=strategy, max_length_ratio=1.5)
    rows, chosen, rejected, reasons = pair_indices(
        scores, np.zeros(n, dtype=bool), u, options, text_length=length
    )
    want_pairs, want_reasons = reference(scores, length, u, strategy, 1.5)
    got = list(zip(rows.tolist(), chosen.tolist(), rejected.tolist(), strict=True))
    assert sorted(got) == sorted(want_pairs)
    assert list(reasons) == want_reasons
    assert "length_ratio" in want_reasons  # the case is exercised
    for i, c, r in got:
        assert length[i, c] <= 1.5 * length[i, r]


@pytest.mark.parametrize("strategy", ["notus", "zephyr", "notus-drawties"])
def test_a_drawn_pair_that_passes_is_the_same_pair_as_without_the_option(strategy):
    rng = np.random.default_rng(3)
    n, width = 300, 4
    scores = rng.integers(1, 6, size=(n, width)).astype(float)
    length = rng.integers(1, 100, size=(n, width))
    u = rng.random(n)
    broken = np.zeros(n, dtype=bool)
    plain = pair_indices(scores, broken, u, BinarizeOptions(strategy=strategy))
    capped = pair_indices(
        scores, broken, u, BinarizeOptions(strategy=strategy, max_length_ratio=2), text_length=length
    )
    before = {int(i): (int(c), int(r)) for i, c, r in zip(*plain[:3], strict=True)}
    after = {int(i): (int(c), int(r)) for i, c, r in zip(*capped[:3], strict=True)}
    passing = {i: p for i, p in before.items() if length[i, p[0]] <= 2 * length[i, p[1]]}
    assert passing and len(passing) < len(before)  # some pairs pass, some do not
    assert {i: after[i] for i in passing} == passing


def rows():
    out = []
    for i in range(40):
        # 0 is chosen; 1 (score 3) is far shorter than the chosen, 2 (score 2) is long enough for some rows only
        texts = ["c" * 100, "s" * 10, "m" * (20 + 3 * i)]
        out.append(rated(f"q{i}", [5, 3, 2], texts=texts, source="a" if i % 2 else "b"))
    return out


@pytest.mark.parametrize("batch_size", [3, 1000])
def test_binarize_counts_length_ratio_and_keeps_every_row(tmp_path, batch_size):
    path = write_parquet(tmp_path / "in.parquet", rows())
    report = binarize(
        path, tmp_path / "out.parquet", strategy="best-vs-worst", max_length_ratio=2.0, batch_size=batch_size
    )
    pairs = pq.read_table(tmp_path / "out.parquet").to_pylist()
    # rows whose "m" text has at least 50 characters pass: 20 + 3i >= 50 from i = 10
    assert len(pairs) == 30 and report.dropped == {"length_ratio": 10}
    assert report.rows_in == 40 == report.rows_with_pairs + sum(report.dropped.values())
    assert all(len(p["chosen_response"]) <= 2 * len(p["rejected_response"]) for p in pairs)
    assert all(
        p["rejected_response"].startswith("m") for p in pairs
    )  # the next candidate that passes, not "s"
    assert report.info["options"]["max_length_ratio"] == 2.0
    assert report.steps["binarize"]["length"]["pairs"] == 30


def test_off_by_default_and_bad_values_are_refused(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", rows())
    report = binarize(path, tmp_path / "out.parquet", strategy="best-vs-worst")
    assert report.rows_out == 40 and "length_ratio" not in report.dropped
    with pytest.raises(OptionError, match="max_length_ratio: 0.0 must be > 0"):
        BinarizeOptions(max_length_ratio=0.0)
    with pytest.raises(OptionError, match="max_length_ratio"):
        BinarizeOptions(max_length_ratio=float("nan"))


def test_cli_and_run_recipe_take_the_option(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", rows())
    out = tmp_path / "cli.parquet"
    result = CliRunner().invoke(
        main, ["binarize", str(path), str(out), "--strategy", "best-vs-worst", "--max-length-ratio", "2"]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 30

    from notus_data.recipes.runner import run

    folder = tmp_path / "run"
    run("notus-v1", input=str(path), output=folder, plots=False, decontaminate=False, flag=False,
        splits="train", strategy="best-vs-worst", max_length_ratio=2.0)  # fmt: skip
    assert "max_length_ratio: 2.0" in (folder / "recipe.yaml").read_text()
    card = (folder / "README.md").read_text()
    assert "length_ratio" in card and "`max_length_ratio: 2.0`" in card
