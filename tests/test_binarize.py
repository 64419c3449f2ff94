"""Binarization: the rules of every strategy, pinned; accounting; determinism; formats; atomic writes."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ufrows import completion, rated, row, write_jsonl, write_parquet

from notus_data.errors import OptionError, SchemaError
from notus_data.formats import SCHEMAS
from notus_data.io import report_path
from notus_data.jobs.binarize import binarize
from notus_data.steps.binarize import STRATEGIES, BinarizeOptions, binarize_table
from notus_data.steps.score import score_table


def pairs_of(tmp_path, rows, name="out.parquet", **options):
    path = write_parquet(tmp_path / "in.parquet", rows)
    out = tmp_path / name
    report = binarize(path, out, **options)
    return pq.read_table(out).to_pylist(), report


MASK = 2**64 - 1


def splitmix64(x):
    """The documented mixer, in plain Python integers."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def u_of(seed, text):
    pid = hashlib.sha256(text.encode()).hexdigest()
    return (splitmix64(int(pid[:16], 16) ^ splitmix64(seed % 2**64)) >> 11) * 2.0**-53


# ------------------------------------------------------------------------------------------- the rules, pinned


def test_notus_chosen_is_first_top_and_rejected_strictly_lower(tmp_path):
    rows = [rated("p", [3, 5, 5, 4, 2])]
    pairs, report = pairs_of(tmp_path, rows, seed=1)
    assert len(pairs) == 1
    assert pairs[0]["chosen_response"] == "p answer 1"  # first of the two 5s
    lower = ["p answer 3", "p answer 0", "p answer 4"]
    # the draw: the floor(u*k)-th of the strictly lower candidates in list order (0, 3, 4)
    expected = ["p answer 0", "p answer 3", "p answer 4"][math.floor(u_of(1, "p") * 3)]
    assert pairs[0]["rejected_response"] == expected and expected in lower
    assert pairs[0]["chosen_avg_rating"] == 5.0
    assert report.dropped == {}


def test_notus_row_without_a_lower_completion_is_a_tie(tmp_path):
    pairs, report = pairs_of(tmp_path, [rated("all tied", [4, 4, 4]), rated("two", [5, 5])])
    assert pairs == []
    assert report.dropped == {"tie": 2}


def test_zephyr_keeps_ties_unless_asked(tmp_path):
    rows = [rated("z", [3, 3, 3, 3], overall=[7.0, 9.0, 9.0, 6.0])]
    pairs, _ = pairs_of(tmp_path, rows, strategy="zephyr", seed=3)
    assert pairs[0]["chosen_response"] == "z answer 1"  # first of the top overall_score
    assert pairs[0]["chosen_score"] == 9.0
    expected = ["z answer 0", "z answer 2", "z answer 3"][math.floor(u_of(3, "z") * 3)]
    assert pairs[0]["rejected_response"] == expected
    # with drop_ties a tie drawn after the fact is dropped; find a seed that draws the tied completion
    seed = next(s for s in range(100) if math.floor(u_of(s, "z") * 3) == 1)
    pairs, report = pairs_of(tmp_path, rows, strategy="zephyr", seed=seed, drop_ties=True)
    assert pairs == [] and report.dropped == {"tie": 1}
    pairs, _ = pairs_of(tmp_path, rows, strategy="zephyr", seed=seed)
    assert pairs[0]["rejected_score"] == 9.0  # kept by default


def test_best_vs_worst_and_best_vs_all_and_all_pairs(tmp_path):
    rows = [rated("q", [4, 2, 5, 2, 3])]
    pairs, _ = pairs_of(tmp_path, rows, strategy="best-vs-worst")
    assert [(p["chosen_response"], p["rejected_response"]) for p in pairs] == [("q answer 2", "q answer 1")]
    pairs, _ = pairs_of(tmp_path, rows, strategy="best-vs-all")
    assert [p["rejected_response"][-1] for p in pairs] == ["0", "1", "3", "4"]
    assert {p["chosen_response"] for p in pairs} == {"q answer 2"}
    pairs, _ = pairs_of(tmp_path, rows, strategy="all-pairs")
    got = [(p["chosen_response"][-1], p["rejected_response"][-1]) for p in pairs]
    assert got == [
        ("0", "1"), ("0", "3"), ("0", "4"),
        ("2", "0"), ("2", "1"), ("2", "3"), ("2", "4"),
        ("4", "1"), ("4", "3"),
    ]  # fmt: skip


def test_filters_apply_to_candidates_before_the_draw(tmp_path):
    rows = [rated("m", [5, 4.5, 3, 4.75])]
    rows[0]["completions"][1]["annotations"]["honesty"]["Rating"] = "4"  # mean 4.25 now
    pairs, _ = pairs_of(tmp_path, rows, min_margin=1.5)
    assert [p["rejected_response"] for p in pairs] == ["m answer 2"]
    pairs, report = pairs_of(tmp_path, rows, min_margin=2.5)
    assert pairs == [] and report.dropped == {"below_margin": 1}
    pairs, report = pairs_of(tmp_path, rows, min_chosen_score=5.5)
    assert pairs == [] and report.dropped == {"below_min_chosen_score": 1}


def test_drop_identical_text(tmp_path):
    rows = [
        rated("same", [5, 3], texts=["Same answer", "  Same answer\n"]),
        rated("mixed", [5, 3, 2], texts=["A", "A", "B"]),
    ]
    pairs, report = pairs_of(tmp_path, rows, strategy="best-vs-worst")
    assert len(pairs) == 2  # off by default
    pairs, report = pairs_of(tmp_path, rows, strategy="best-vs-all", drop_identical_text=True)
    assert [(p["instruction"], p["rejected_response"]) for p in pairs] == [("mixed", "B")]
    assert report.dropped == {"identical_text": 1}


# ------------------------------------------------------------------------ an independent reference implementation


def reference(rows, opts):
    """The documented rules, one row at a time in plain Python (no numpy, no Arrow)."""
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
            vals = [
                int(c["annotations"][a]["Rating"])
                for a in c["annotations"]
                if c["annotations"][a]["Rating"] != "N/A"
            ]
            scores.append(sum(vals) / len(vals) if vals else None)
        idx = [j for j, s in enumerate(scores) if s is not None]
        if len(idx) < 2:
            reasons["too_few_completions"] += 1
            continue
        top = max(scores[j] for j in idx)
        chosen = next(j for j in idx if scores[j] == top)
        if opts.get("min_chosen_score") is not None and top < opts["min_chosen_score"]:
            reasons["below_min_chosen_score"] += 1
            continue
        cands = [j for j in idx if scores[j] < top]
        if not cands:
            reasons["tie"] += 1
            continue
        cands = [j for j in cands if top - scores[j] >= opts.get("min_margin", 0) - 1e-9]
        if not cands:
            reasons["below_margin"] += 1
            continue
        if opts.get("drop_identical_text"):
            cands = [j for j in cands if comps[j]["response"].strip() != comps[chosen]["response"].strip()]
            if not cands:
                reasons["identical_text"] += 1
                continue
        u = u_of(opts["seed"], r["instruction"])
        rej = cands[math.floor(u * len(cands))]
        out.append((r["instruction"], comps[chosen]["response"], comps[rej]["response"], top, scores[rej]))
    return out, reasons


def random_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        comps = []
        for j in range(rng.choice([0, 1, 2, 3, 4, 4, 4, 5])):
            if rng.random() < 0.03:
                comps.append(None)
                continue
            ratings = tuple(rng.choice(["1", "2", "3", "4", "5", "5", "N/A"]) for _ in range(4))
            text = rng.choice([f"r{i}-{j}", f"r{i}-dup", None if rng.random() < 0.02 else f"r{i}-{j}x"])
            comps.append(completion(response=text, ratings=ratings, overall=float(rng.randint(1, 10))))
        rows.append(row(None if rng.random() < 0.01 else f"prompt {i} {rng.random()}", comps))
    return rows


@pytest.mark.parametrize(
    "opts",
    [
        {"seed": 0},
        {"seed": 5, "min_margin": 1.0},
        {"seed": 9, "drop_identical_text": True, "min_chosen_score": 3.5},
    ],
)
def test_notus_matches_the_reference_pair_by_pair(tmp_path, opts):
    rows = random_rows(600, seed=opts["seed"])
    pairs, report = pairs_of(tmp_path, rows, **opts)
    expected, reasons = reference(rows, opts)
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
    assert report.dropped == reasons
    assert report.rows_in == 600 and report.rows_with_pairs + sum(reasons.values()) == 600


# -------------------------------------------------------------------------------------------- accounting


def test_every_reason_is_counted_and_the_counts_add_up(tmp_path):
    rows = [
        rated("pair", [5, 3]),
        rated("tie", [4, 4]),
        rated("few", [5]),
        rated("none rated", [None, None, 5]),
        row(None, [completion(), completion()]),
        row("null list", None),
        rated("margin", [5, 4.5]),
        rated("low", [2, 1]),
        rated("same text", [5, 4], texts=["x", "x"]),
    ]
    rows[6]["completions"][1]["annotations"]["honesty"]["Rating"] = "4"
    pairs, report = pairs_of(tmp_path, rows, min_margin=1.0, min_chosen_score=3, drop_identical_text=True)
    assert [p["instruction"] for p in pairs] == ["pair"]
    assert report.dropped == {
        "tie": 1,
        "too_few_completions": 2,
        "invalid_row": 2,
        "below_margin": 1,
        "below_min_chosen_score": 1,
        "identical_text": 1,
    }
    report.check()
    saved = json.loads(report_path(tmp_path / "out.parquet").read_text())
    assert saved["rows_in"] == 9 and saved["rows_out"] == 1
    assert sum(saved["dropped"].values()) + saved["rows_with_pairs"] == saved["rows_in"]
    assert saved["dropped_by_source"]["evol_instruct"]["tie"] == 1
    assert saved["problems"]["counts"] == {"null_completions": 1, "null_instruction": 1}


def test_multi_pair_strategies_count_rows_and_pairs(tmp_path):
    pairs, report = pairs_of(tmp_path, [rated("a", [5, 4, 3]), rated("b", [2, 2])], strategy="all-pairs")
    assert report.rows_out == len(pairs) == 3
    assert report.rows_with_pairs == 1 and report.dropped == {"tie": 1}


# ------------------------------------------------------------------------------------------- determinism


def test_output_bytes_do_not_depend_on_batch_size(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", random_rows(300, seed=1))
    for name in ("out.parquet", "out.jsonl"):
        digests = set()
        for batch_size in (1, 7, 4096):
            out = tmp_path / f"{batch_size}-{name}"
            binarize(path, out, batch_size=batch_size, format="h4")
            digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
        assert len(digests) == 1, name


def test_pairs_do_not_depend_on_row_order(tmp_path):
    rows = random_rows(300, seed=2)
    a, _ = pairs_of(tmp_path, rows, name="a.parquet")
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    b, _ = pairs_of(tmp_path, shuffled, name="b.parquet")
    key = lambda p: (p["prompt_id"], p["chosen_response"], p["rejected_response"])  # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))


def test_the_draw_is_uniform_and_follows_the_seed(tmp_path):
    rows = [rated(f"prompt {i}", [5, 1, 1, 1], texts=["best", "a", "b", "c"]) for i in range(3000)]
    pairs, _ = pairs_of(tmp_path, rows, seed=11)
    counts = Counter(p["rejected_response"] for p in pairs)
    assert set(counts) == {"a", "b", "c"}
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 13.8  # p = 0.001 for 2 degrees of freedom
    other, _ = pairs_of(tmp_path, rows, name="other.parquet", seed=12)
    changed = sum(p["rejected_response"] != q["rejected_response"] for p, q in zip(pairs, other, strict=True))
    assert 1800 < changed < 2200  # two independent draws among 3 agree a third of the time


# ---------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", ["notus", "cleaned", "h4"])
def test_formats_have_their_published_columns(tmp_path, fmt):
    pairs, _ = pairs_of(tmp_path, [rated("Hi ünï", [5, 3])], format=fmt)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema == SCHEMAS[fmt]
    p = pairs[0]
    if fmt == "notus":
        assert (
            p["source"] == "evol_instruct"
            and p["chosen_model"] == "model-0"
            and p["rejected_model"] == "model-1"
        )
        assert (p["chosen_avg_rating"], p["rejected_avg_rating"]) == (5.0, 3.0)
    else:
        chosen = [{"content": "Hi ünï", "role": "user"}, {"content": "Hi ünï answer 0", "role": "assistant"}]
        assert p["chosen"] == chosen
        assert p["rejected"][1]["content"] == "Hi ünï answer 1"
        if fmt == "cleaned":
            assert (p["chosen-rating"], p["rejected-rating"], p["chosen-model"]) == (5.0, 3.0, "model-0")
        else:
            assert p["messages"] == chosen and p["prompt"] == "Hi ünï"
            assert p["prompt_id"] == hashlib.sha256("Hi ünï".encode()).hexdigest()


def test_save_to_disk_output_loads_with_datasets(tmp_path):
    import datasets

    path = write_parquet(tmp_path / "in.parquet", [rated("a", [5, 3]), rated("b", [1, 2])])
    binarize(path, tmp_path / "folder", format="cleaned")
    ds = datasets.load_from_disk(str(tmp_path / "folder"))
    assert ds.num_rows == 2 and "chosen-rating" in ds.column_names
    assert report_path(tmp_path / "folder").name == "folder.report.json"


# ------------------------------------------------------------------------------------------ atomic writes


def test_a_failed_run_leaves_no_output(tmp_path, monkeypatch):
    import notus_data.steps.binarize as module

    path = write_parquet(tmp_path / "in.parquet", [rated(f"q{i}", [5, 3]) for i in range(20)])
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous output")
    calls = {"n": 0}
    real = module._binarize  # what the step runs on each batch (binarize_table and the length stats)

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_binarize", failing)
    with pytest.raises(RuntimeError):
        binarize(path, out, batch_size=5)
    assert out.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


# ---------------------------------------------------------------------------------------------- options


def test_options_are_validated():
    with pytest.raises(OptionError, match="strategy: 'best' is not a strategy"):
        BinarizeOptions(strategy="best")
    with pytest.raises(OptionError, match="format: 'csv'"):
        BinarizeOptions(format="csv")
    with pytest.raises(OptionError, match="min_margin: -1"):
        BinarizeOptions(min_margin=-1)
    assert BinarizeOptions(strategy="zephyr").score == "overall-score"
    assert BinarizeOptions().score == "avg-rating"
    assert set(STRATEGIES) == {
        "notus",
        "notus-drawties",
        "zephyr",
        "best-vs-worst",
        "best-vs-all",
        "all-pairs",
    }


def test_score_source_missing_from_input_fails_before_work(tmp_path):
    rows = [
        {
            "instruction": "q",
            "completions": [{"response": "a", "overall_score": 5.0}, {"response": "b", "overall_score": 3.0}],
        }
    ]
    path = write_jsonl(tmp_path / "no-ratings.jsonl", rows)
    with pytest.raises(SchemaError, match="annotations"):
        binarize(path, tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()
    report = binarize(path, tmp_path / "o.parquet", score="overall-score")
    assert report.rows_out == 1


def test_binarize_table_is_a_pure_batch_function():
    """The same kernel runs under datasets.map(batched=True): a batch in, a batch out."""
    import datasets

    rows = [rated(f"q{i}", [5, 3, 4]) for i in range(10)]
    path_rows = pa.Table.from_pylist(rows)
    from notus_data.normalize import normalize_batch
    from notus_data.schema import check_raw_schema

    layout = check_raw_schema(path_rows.schema, "memory")
    canonical, _ = normalize_batch(path_rows, layout)
    ds = datasets.Dataset(canonical)
    options = BinarizeOptions(format="h4")

    def step(batch):
        pairs, _ = binarize_table(score_table(batch), options)
        return pairs

    mapped = ds.with_format("arrow").map(step, batched=True, batch_size=3, remove_columns=ds.column_names)
    direct, _ = binarize_table(score_table(canonical), options)
    assert mapped.data.table.to_pylist() == direct.to_pylist()


def test_decontaminate_before_pairing(tmp_path):
    questions = Path(__file__).resolve().parent.parent / "data" / "truthfulqa-questions.jsonl"
    question = json.loads(questions.read_text().splitlines()[0])["question"]
    rows = [
        rated("An ordinary prompt about cooking pasta.", [5, 3]),
        rated(f"Answer truthfully: {question}", [5, 3]),
        rated(question, [5, 3], source="truthful_qa"),
    ]
    pairs, report = pairs_of(tmp_path, rows, benchmark_file=str(questions))
    assert [p["instruction"] for p in pairs] == ["An ordinary prompt about cooking pasta."]
    assert report.dropped == {"decontaminated": 2}
    assert report.steps["decontaminate"]["rows_removed"] == 2
    evidence = pq.read_table(tmp_path / "out.decontamination.parquet").to_pylist()
    assert {e["question"] for e in evidence} == {question}
