"""Rule (b) of the Notus card's draw, ``--strategy notus-drawties``: the rejected is drawn among ALL the other
scorable completions and the pair is dropped when the draw ties the chosen. Pinned against a plain-Python
reference, against the seed-keyed draw, against zephyr with drop_ties, by its drop rate, and in its recipe's card."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter

import pyarrow.parquet as pq
import pytest
from ufrows import completion, rated, row, write_parquet

from notus_data.jobs.binarize import binarize
from notus_data.recipes import load_recipe, run

MASK = 2**64 - 1


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def u_of(seed: int, text: str) -> float:
    """The documented draw, in plain Python integers: splitmix64(first 64 bits of sha256(prompt) ^ mix(seed))."""
    pid = hashlib.sha256(text.encode()).hexdigest()
    return (splitmix64(int(pid[:16], 16) ^ splitmix64(seed % 2**64)) >> 11) * 2.0**-53


def pairs_of(tmp_path, rows, **options):
    path = write_parquet(tmp_path / "in.parquet", rows)
    out = tmp_path / "out.parquet"
    report = binarize(path, out, **options)
    return pq.read_table(out).to_pylist(), report


def test_the_draw_is_among_all_others_and_a_drawn_tie_drops_the_pair(tmp_path):
    rows = [
        rated("p", [5, 3, 5, 2])
    ]  # chosen: answer 0; the others in list order: 1 (3), 2 (5, a tie), 3 (2)
    others = ["p answer 1", "p answer 2", "p answer 3"]
    tie_seed = next(s for s in range(200) if math.floor(u_of(s, "p") * 3) == 1)
    pair_seed = next(s for s in range(200) if math.floor(u_of(s, "p") * 3) != 1)
    pairs, report = pairs_of(tmp_path, rows, strategy="notus-drawties", seed=tie_seed)
    assert pairs == [] and report.dropped == {"tie": 1}
    # rule (a) with the same seed still gives a pair: it never draws the tie
    pairs, report = pairs_of(tmp_path, rows, strategy="notus", seed=tie_seed)
    assert len(pairs) == 1 and pairs[0]["rejected_response"] in ("p answer 1", "p answer 3")
    pairs, report = pairs_of(tmp_path, rows, strategy="notus-drawties", seed=pair_seed)
    expected = others[math.floor(u_of(pair_seed, "p") * 3)]
    assert [(p["chosen_response"], p["rejected_response"]) for p in pairs] == [("p answer 0", expected)]
    assert pairs[0]["chosen_avg_rating"] == 5.0 and pairs[0]["rejected_avg_rating"] < 5.0


def test_rows_without_a_lower_completion_never_pair(tmp_path):
    pairs, report = pairs_of(
        tmp_path, [rated("flat", [4, 4, 4]), rated("two", [3, 3])], strategy="notus-drawties", seed=3
    )
    assert pairs == [] and report.dropped == {"tie": 2}


def reference_b(rows, seed):
    """Rule (b), one row at a time in plain Python (no numpy, no Arrow)."""
    out, reasons = [], Counter()
    for r in rows:
        comps = r["completions"]
        if r["instruction"] is None or comps is None:
            reasons["invalid_row"] += 1
            continue
        scores = []
        for c in comps:
            if c is None or c["response"] is None:
                scores.append(None)
                continue
            ratings = [int(v["Rating"]) for v in c["annotations"].values() if v["Rating"] != "N/A"]
            scores.append(sum(ratings) / len(ratings) if ratings else None)
        idx = [j for j, s in enumerate(scores) if s is not None]
        if len(idx) < 2:
            reasons["too_few_completions"] += 1
            continue
        top = max(scores[j] for j in idx)
        chosen = next(j for j in idx if scores[j] == top)
        others = [j for j in idx if j != chosen]
        drawn = others[math.floor(u_of(seed, r["instruction"]) * len(others))]
        if scores[drawn] == top:
            reasons["tie"] += 1
            continue
        out.append(
            (r["instruction"], comps[chosen]["response"], comps[drawn]["response"], top, scores[drawn])
        )
    return out, reasons


def random_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        comps = []
        for j in range(rng.choice([0, 1, 2, 3, 4, 4, 4])):
            if rng.random() < 0.03:
                comps.append(None)
                continue
            ratings = tuple(rng.choice(["3", "4", "5", "5", "N/A"]) for _ in range(4))
            comps.append(completion(response=f"r{i}-{j}", ratings=ratings))
        rows.append(row(None if rng.random() < 0.01 else f"prompt {i} {rng.random()}", comps))
    return rows


@pytest.mark.parametrize("seed", [0, 11])
def test_matches_the_reference_pair_by_pair(tmp_path, seed):
    rows = random_rows(800, seed)
    pairs, report = pairs_of(tmp_path, rows, strategy="notus-drawties", seed=seed)
    expected, reasons = reference_b(rows, seed)
    got = [
        (
            p["instruction"],
            p["chosen_response"],
            p["rejected_response"],
            p["chosen_score"],
            p["rejected_score"],
        )
        for p in pairs
    ]
    assert got == expected
    assert report.dropped == reasons and reasons["tie"] > 20  # the inputs do tie often
    assert report.rows_with_pairs + sum(reasons.values()) == 800


def test_same_pairs_as_zephyr_with_drop_ties_on_the_mean_rating(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", random_rows(500, 4))
    binarize(path, tmp_path / "b.parquet", strategy="notus-drawties", seed=9)
    binarize(path, tmp_path / "z.parquet", strategy="zephyr", score="avg-rating", drop_ties=True, seed=9)
    assert pq.read_table(tmp_path / "b.parquet").equals(pq.read_table(tmp_path / "z.parquet"))


def test_a_prompt_loses_its_pair_with_probability_t_over_k(tmp_path):
    # one tie partner among three others: a drop rate of 1/3 over prompts whose draws are independent
    n = 3000
    rows = [rated(f"prompt {i}", [5, 4, 5, 3]) for i in range(n)]
    _, report = pairs_of(tmp_path, rows, strategy="notus-drawties", seed=2)
    dropped = report.dropped["tie"]
    sd = math.sqrt(n * (1 / 3) * (2 / 3))
    assert abs(dropped - n / 3) < 5 * sd, dropped
    _, report = pairs_of(tmp_path, rows, strategy="notus", seed=2)
    assert report.dropped == {}  # rule (a) keeps every one


def test_the_recipe_is_notus_v1_with_rule_b_and_each_card_names_its_rule(tmp_path):
    v1, b = load_recipe("notus-v1"), load_recipe("notus-v1-drawties")
    assert b.binarize.strategy == "notus-drawties" and v1.binarize.strategy == "notus"
    assert (b.binarize.score, b.binarize.format, b.binarize.seed) == (
        v1.binarize.score, v1.binarize.format, v1.binarize.seed,
    )  # fmt: skip
    assert (b.load, b.flag, b.decontaminate, b.split) == (v1.load, v1.flag, v1.decontaminate, v1.split)
    path = write_parquet(tmp_path / "in.parquet", random_rows(300, 8))
    report = run("notus-v1-drawties", input=str(path), output=tmp_path / "b", plots=False, compare=False)
    binarize(path, tmp_path / "direct.parquet", strategy="notus-drawties", seed=42)
    got = pq.read_table(tmp_path / "b" / "data" / "train-00000-of-00001.parquet")
    assert got.equals(pq.read_table(tmp_path / "direct.parquet"))
    assert report.dropped["tie"] == reference_b(load_rows(path), 42)[1]["tie"]
    card_b = (tmp_path / "b" / "README.md").read_text()
    assert "strategy: notus-drawties" in card_b and "- Draw: rule (b) of the two readings" in card_b
    run("notus-v1", input=str(path), output=tmp_path / "a", plots=False, compare=False)
    card_a = (tmp_path / "a" / "README.md").read_text()
    assert "strategy: notus`" in card_a and "- Draw: rule (a) of the two readings" in card_a


def load_rows(path):
    return pq.read_table(path).to_pylist()
