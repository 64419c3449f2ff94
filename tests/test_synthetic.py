"""The synthetic UltraFeedback generator (notus_data.synthetic) and the bundled sample (data/)."""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from notus_data import synthetic
from notus_data.errors import OptionError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ultrafeedback-sample.parquet"
TRUTHFULQA = ROOT.parent / "shared" / "data" / "truthfulqa" / "questions.jsonl"
QUESTIONS = {q for q, _, _ in synthetic.TRUTHFULQA_QUESTIONS}
RATINGS = {"1", "2", "3", "4", "5"}


def rows_of(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def mean_rating(completion: dict) -> float | None:
    """Mean of the valid ("1".."5") aspect ratings, None without any."""
    values = [
        int(aspect["Rating"])
        for aspect in completion["annotations"].values()
        if aspect is not None and aspect["Rating"] in RATINGS
    ]
    return sum(values) / len(values) if values else None


def ratings(completion: dict) -> list[str | None]:
    return [a["Rating"] if a is not None else None for a in completion["annotations"].values()]


def same_values(a: pa.Table, b: pa.Table) -> bool:
    """Equal schema and values, NaN equal to NaN (``Table.equals`` says NaN != NaN)."""
    return a.schema.equals(b.schema) and json.dumps(a.to_pylist()) == json.dumps(b.to_pylist())


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return rows_of(pq.read_table(SAMPLE))


# ------------------------------------------------------------------------------------------ schema, determinism


def test_batches_have_the_raw_schema_and_valid_data():
    batches = list(synthetic.generate(300, seed=3, batch_size=128))
    assert [b.num_rows for b in batches] == [128, 128, 44]
    for batch in batches:
        assert batch.schema.equals(synthetic.RAW_SCHEMA)
        batch.validate(full=True)  # offsets, nulls, and UTF-8 of every string
    completion = synthetic.RAW_SCHEMA.field("completions").type.value_type
    assert [f.name for f in completion] == [
        "model", "principle", "custom_system_prompt", "response", "critique", "overall_score",
        "fine-grained_score", "annotations",
    ]  # fmt: skip
    assert completion.field("annotations").type.field("helpfulness").type.names == [
        "Type", "Rationale", "Rating", "Rationale For Rating",
    ]  # fmt: skip


def test_same_seed_gives_byte_identical_parquet_and_another_seed_does_not(tmp_path):
    a = synthetic.write_parquet(tmp_path / "a.parquet", 300, seed=7, row_group_size=100)
    b = synthetic.write_parquet(tmp_path / "b.parquet", 300, seed=7, row_group_size=100)
    c = synthetic.write_parquet(tmp_path / "c.parquet", 300, seed=8, row_group_size=100)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert pq.ParquetFile(a).metadata.num_row_groups == 3
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_rows_do_not_depend_on_batch_size_or_row_count():
    one = pa.concat_tables(synthetic.generate(600, seed=1, batch_size=4096))
    many = pa.concat_tables(synthetic.generate(600, seed=1, batch_size=97))
    assert same_values(one, many)
    assert same_values(pa.concat_tables(synthetic.generate(300, seed=1)), one.slice(0, 300))


def test_edge_cases_change_only_their_own_rows():
    with_edges = rows_of(pa.concat_tables(synthetic.generate(1000, seed=2)))
    without = rows_of(pa.concat_tables(synthetic.generate(1000, seed=2, edge_cases=False)))
    edge_rows = {r for rows in synthetic.edge_case_rows(1000).values() for r in rows}
    # each kind at an offset below 300, and again 500 rows later
    assert len(edge_rows) == 2 * len(synthetic.EDGE_CASES)
    differ = {i for i, (a, b) in enumerate(zip(with_edges, without, strict=True)) if a != b}
    assert differ == edge_rows


def test_without_edge_cases_the_data_is_clean():
    rows = rows_of(pa.concat_tables(synthetic.generate(1000, seed=0, edge_cases=False)))
    assert all(len(r["completions"]) == 4 for r in rows)
    completions = [c for r in rows for c in r["completions"]]
    assert all(c is not None and c["response"] and c["overall_score"] is not None for c in completions)
    assert all(set(ratings(c)) <= RATINGS for c in completions)
    assert all(r["instruction"].isascii() for r in rows if r["source"] != "truthful_qa")
    assert synthetic.edge_case_rows(1000, edge_cases=False) == {k: [] for k in synthetic.EDGE_CASES}


def test_bad_arguments_raise_option_errors(tmp_path):
    with pytest.raises(OptionError, match="n_rows must be an integer >= 0, got -1"):
        next(synthetic.generate(-1))
    with pytest.raises(OptionError, match="batch_size must be an integer >= 1, got 0"):
        next(synthetic.generate(5, batch_size=0))
    with pytest.raises(OptionError, match="row_group_size"):
        synthetic.write_parquet(tmp_path / "x.parquet", 5, row_group_size=0)
    assert not (tmp_path / "x.parquet").exists()


def test_zero_rows_give_an_empty_file_with_the_schema(tmp_path):
    assert list(synthetic.generate(0)) == []
    table = pq.read_table(synthetic.write_parquet(tmp_path / "empty.parquet", 0))
    assert table.num_rows == 0 and table.schema.equals(synthetic.RAW_SCHEMA)


# ------------------------------------------------------------------------------------------ realism


def test_rows_look_like_ultrafeedback():
    table = pa.concat_tables(synthetic.generate(3000, seed=0, edge_cases=False))
    rows = rows_of(table)
    sources = Counter(r["source"] for r in rows)
    assert set(sources) == set(synthetic.SOURCES)
    total = sum(synthetic.SOURCES.values())
    for source, count in synthetic.SOURCES.items():  # published proportions, within sampling noise
        expected = 3000 * count / total
        assert abs(sources[source] - expected) < 4 * math.sqrt(expected) + 3, source
    completions = [c for r in rows for c in r["completions"]]
    assert {c["model"] for c in completions} <= set(synthetic.MODELS)
    assert all(r["models"] == [c["model"] for c in r["completions"]] for r in rows)
    assert all(len(set(r["models"])) == 4 for r in rows)
    assert {c["principle"] for r in rows if r["source"] == "evol_instruct" for c in r["completions"]} == {
        "helpfulness"
    }
    # text lengths near the real data's medians
    assert 300 < statistics.median(len(r["instruction"]) for r in rows) < 430
    assert 750 < statistics.median(len(c["response"]) for c in completions) < 1050
    assert 250 < statistics.median(len(c["critique"]) for c in completions) < 380
    assert 10 <= min(len(r["instruction"]) for r in rows) and max(len(r["instruction"]) for r in rows) <= 3000
    # overall_score: 1-10 in steps of 0.5, correlated with the mean rating but not the same ranking
    scores = np.array([c["overall_score"] for c in completions])
    means = np.array([mean_rating(c) for c in completions])
    assert scores.min() >= 1 and scores.max() <= 10 and np.all(scores * 2 == np.round(scores * 2))
    assert 0.4 < np.corrcoef(scores, means)[0, 1] < 0.95
    assert np.allclose([c["fine-grained_score"] for c in completions], means)
    per_row = means.reshape(-1, 4)
    top_ties = np.mean((per_row == per_row.max(1, keepdims=True)).sum(1) > 1)
    assert 0.05 < top_ties < 0.2  # about one row in ten has a tie at the top
    differ = np.mean(per_row.argmax(1) != scores.reshape(-1, 4).argmax(1))
    assert 0.3 < differ < 0.7  # the two scores pick different best completions in about half the rows
    # truthful_qa rows hold real questions with their answers, other rows ["None"]
    for r in rows:
        if r["source"] == "truthful_qa":
            assert r["instruction"] in QUESTIONS and r["correct_answers"] != ["None"]
        else:
            assert r["correct_answers"] == r["incorrect_answers"] == ["None"]


def test_text_is_not_trivially_compressible():
    table = next(synthetic.generate(500, seed=0, edge_cases=False, batch_size=500))
    responses = "".join(table.column("completions").combine_chunks().flatten().field("response").to_pylist())
    words = re.findall(r"[a-z]+", responses.lower())
    assert len(set(words)) > 5000  # a large vocabulary, not a few repeated words
    assert len(set(responses.split(". "))) > 0.95 * len(responses.split(". "))  # sentences do not repeat


# ------------------------------------------------------------------------------------------ the sample's edge cases


def test_sample_is_small_in_the_raw_schema_and_says_it_is_synthetic():
    assert SAMPLE.stat().st_size < 3_000_000
    schema = pq.read_schema(SAMPLE)
    assert schema.remove_metadata().equals(synthetic.RAW_SCHEMA)
    origin = json.loads(schema.metadata[b"notus_data"])
    assert origin["synthetic"] is True and "trl-lib/ultrafeedback_binarized" in origin["description"]


def test_sample_is_up_to_date(tmp_path):
    pairs = Path(__file__).resolve().parents[2] / "shared" / "data" / "ultrafeedback-pairs"
    if not pairs.is_dir():
        pytest.skip(f"{pairs} is absent: the sample's real prompts and responses come from there")
    sys.path.insert(0, str(SAMPLE.parent))
    import make_sample

    fresh = make_sample.write(tmp_path / "s.parquet")
    assert same_values(pq.read_table(SAMPLE), pq.read_table(fresh)), "run python data/make_sample.py"
    real = {r["prompt"] for r in make_sample.pairs()}
    rows = pq.read_table(SAMPLE).to_pylist()
    asks = [any(q in " ".join(r["instruction"].split()) for q in QUESTIONS) for r in rows]  # TruthfulQA rows
    kept = [r for r, asked in zip(rows, asks, strict=True) if r["source"] != "truthful_qa" and not asked]
    from_pairs = [r["instruction"] in real or r["instruction"].split(": ", 1)[-1] in real for r in kept]
    assert all(from_pairs)  # real prompts (the non-ASCII row: behind its non-ASCII prefix)


def test_sample_reads_like_data_and_its_critiques_agree_with_the_scores(sample):
    """Critiques and rationales are sentences (no random letters), and they say what the scores say: a
    critique-score bug row (10 with low ratings) reads strongly negative, a high score reads positive."""
    from notus_data.critique import critique_negativity
    from notus_data.synthetic.readable import _CRITIQUE, _RATIONALE

    sentences = {s for parts in _CRITIQUE.values() for options in parts for s in options}
    completions = [c for r in sample for c in r["completions"] if c and c["critique"] is not None]
    for c in completions:
        assert all(f"{s}." in sentences or s in sentences for s in c["critique"].rstrip(".").split(". ")), c[
            "critique"
        ]
        rationale = c["annotations"]["honesty"]["Rationale"] if c["annotations"]["honesty"] else None
        assert rationale is None or rationale in _RATIONALE["honesty"] or "does not apply" in rationale
    scores = [(c["overall_score"], mean_rating(c), c["critique"]) for c in completions]
    bug = [text for overall, mean, text in scores if overall == 10 and mean is not None and mean <= 4]
    high = [
        text for overall, mean, text in scores if overall is not None and overall >= 8 and text not in bug
    ]
    assert bug and (critique_negativity(pa.array(bug)) >= 0.5).all()
    assert (critique_negativity(pa.array(high)) < 0).all()


def test_sample_holds_na_ratings(sample):
    completions = [c for r in sample for c in r["completions"] if c]
    assert any(c["annotations"]["honesty"]["Rating"] == "N/A" for c in completions)
    assert any((c["annotations"]["instruction_following"] or {}).get("Rating") == "N/A" for c in completions)
    all_na = [c for c in completions if ratings(c) == ["N/A"] * 4]
    assert all_na and all(math.isnan(c["fine-grained_score"]) for c in all_na)


def test_sample_holds_ties(sample):
    def top_count(row):
        means = [m for m in map(mean_rating, filter(None, row["completions"])) if m is not None]
        return sum(m == max(means) for m in means)

    assert any(len(r["completions"]) == 4 and top_count(r) == 2 for r in sample)
    assert any(len(r["completions"]) == 4 and top_count(r) == 4 for r in sample)


def test_sample_holds_short_rows(sample):
    lengths = Counter(len(r["completions"]) for r in sample)
    assert lengths[0] >= 1 and lengths[1] >= 1
    assert all(len(r["models"]) == 4 for r in sample)


def test_sample_holds_the_critique_score_bug(sample):
    negative = re.compile(r"incorrect|wrong|fails|off-topic")
    bugged = [
        mean_rating(c)
        for r in sample
        for c in r["completions"]
        if c and c["overall_score"] == 10 and negative.search(c["critique"].split(".")[0])
    ]
    assert any(m <= 2 for m in bugged) and any(2 < m <= 4 for m in bugged)


def test_sample_holds_non_ascii_text(sample):
    scripts = {
        "accent": r"[\u00c0-\u017f]",
        "cjk": r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]",
        "emoji": r"[\U0001f300-\U0001faff]",
        "rtl": r"[\u0590-\u06ff]",
    }
    for row in sample:
        responses = [c["response"] for c in row["completions"] if c and c["response"]]
        texts = [row["instruction"], *responses]
        if responses and all(all(re.search(p, t) for p in scripts.values()) for t in texts):
            return
    pytest.fail("no row with accents, CJK, emoji and RTL text in its instruction and every response")


def test_sample_holds_bad_ratings(sample):
    values = {v for r in sample for c in r["completions"] if c for v in ratings(c)}
    assert {"seven", "", "0", "11"} <= values


def test_sample_holds_nulls(sample):
    completions = [c for r in sample for c in r["completions"]]
    assert None in completions
    present = [c for c in completions if c is not None]
    assert any(c["response"] is None for c in present)
    assert any(c["overall_score"] is None for c in present)
    assert any(c["annotations"]["truthfulness"] is None for c in present)


def test_sample_holds_identical_responses_with_different_ratings(sample):
    for row in sample:
        seen: dict[str, float | None] = {}
        for c in row["completions"]:
            if c and c["response"] is not None:
                if c["response"] in seen and seen[c["response"]] != mean_rating(c):
                    return
                seen[c["response"]] = mean_rating(c)
    pytest.fail("no row with two identical responses rated differently")


def test_sample_holds_truthfulqa_questions(sample):
    tqa_rows = [r for r in sample if r["source"] == "truthful_qa"]
    assert tqa_rows and all(r["instruction"] in QUESTIONS for r in tqa_rows)
    others = [r for r in sample if r["source"] in ("evol_instruct", "sharegpt")]
    assert any(r["instruction"] in QUESTIONS for r in others)  # exact copy in another source
    assert any(
        r["instruction"] not in QUESTIONS and any(q in r["instruction"] for q in QUESTIONS) for r in others
    )

    def normalize(text: str) -> str:
        return " ".join(text.removeprefix("Q:").split())

    assert any(r["instruction"] not in QUESTIONS and normalize(r["instruction"]) in QUESTIONS for r in others)


def test_every_edge_case_sits_at_its_documented_row(sample):
    positions = synthetic.edge_case_rows(400)
    assert set(positions) == set(synthetic.EDGE_CASES)
    assert all(len(rows) == 1 and rows[0] < 300 for rows in positions.values())
    row = {kind: sample[rows[0]] for kind, rows in positions.items()}
    assert len(row["zero_completions"]["completions"]) == 0
    assert len(row["one_completion"]["completions"]) == 1
    assert None in row["null_completion"]["completions"]
    assert row["truthfulqa_exact"]["instruction"] in QUESTIONS
    assert row["truthfulqa_exact"]["source"] == "evol_instruct"
    assert "seven" in {v for c in row["bad_rating_word"]["completions"] for v in ratings(c)}
    assert any(ratings(c) == ["N/A"] * 4 for c in row["all_na"]["completions"])
    assert len({mean_rating(c) for c in row["all_tie"]["completions"]}) == 1


def test_builtin_truthfulqa_questions_are_real():
    if not TRUTHFULQA.exists():
        pytest.skip(f"{TRUTHFULQA} is absent (the team's offline TruthfulQA copy)")
    real = {}
    for line in TRUTHFULQA.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        real[item["question"]] = item
    for question, correct, incorrect in synthetic.TRUTHFULQA_QUESTIONS:
        assert question in real
        assert set(correct) <= set(real[question]["correct_answers"])
        assert set(incorrect) <= set(real[question]["incorrect_answers"])


# ------------------------------------------------------------------------------------------ variants and formats


def test_jsonl_round_trip_through_datasets_keeps_schema_and_values(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = synthetic.write_jsonl(tmp_path / "rows.jsonl", 400, seed=0, batch_size=150)
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.data.table.schema.equals(synthetic.RAW_SCHEMA)
    expected = rows_of(pa.concat_tables(synthetic.generate(400, seed=0)))
    for row in expected:  # JSON has no NaN: the writer puts null there
        for c in row["completions"]:
            if c and c["fine-grained_score"] is not None and math.isnan(c["fine-grained_score"]):
                c["fine-grained_score"] = None
    assert loaded.data.table.to_pylist() == expected
    assert "日本語" in path.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes


def test_aspect_as_list_variant():
    plain = pa.concat_tables(synthetic.generate(300, seed=4))
    listed = pa.concat_tables(synthetic.generate(300, seed=4, aspect_as_list=True))
    assert listed.schema.equals(synthetic.raw_schema(aspect_as_list=True))
    aspect_type = (
        listed.schema.field("completions").type.value_type.field("annotations").type.field("honesty").type
    )
    assert pa.types.is_list(aspect_type)
    nulls = 0
    for a, b in zip(rows_of(plain), rows_of(listed), strict=True):
        for ca, cb in zip(a["completions"], b["completions"], strict=True):
            if ca is None:
                assert cb is None
                continue
            for aspect in synthetic.ASPECTS:
                if ca["annotations"][aspect] is None:
                    assert cb["annotations"][aspect] is None
                    nulls += 1
                else:
                    assert cb["annotations"][aspect] == [ca["annotations"][aspect]]
            assert {k: v for k, v in cb.items() if k not in ("annotations", "fine-grained_score")} == {
                k: v for k, v in ca.items() if k not in ("annotations", "fine-grained_score")
            }
    assert nulls >= 1


def test_drop_fine_grained_variant():
    table = next(synthetic.generate(50, seed=4, drop_fine_grained=True))
    assert table.schema.equals(synthetic.raw_schema(drop_fine_grained=True))
    assert "fine-grained_score" not in table.schema.field("completions").type.value_type.names
    assert "fine-grained_score" in synthetic.RAW_SCHEMA.field("completions").type.value_type.names


def test_command_line_writes_parquet_and_jsonl(tmp_path):
    out = tmp_path / "cli.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "notus_data.synthetic", "--rows", "40", "--seed", "5", "--output", str(out),
         "--aspect-as-list", "--drop-fine-grained"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "wrote 40 rows" in done.stdout
    table = pq.read_table(out)
    assert table.num_rows == 40
    assert table.schema.equals(synthetic.raw_schema(aspect_as_list=True, drop_fine_grained=True))
    synthetic.main(["--rows", "10", "--output", str(tmp_path / "cli.jsonl")])
    assert len((tmp_path / "cli.jsonl").read_text(encoding="utf-8").splitlines()) == 10
    with pytest.raises(SystemExit):
        synthetic.main(["--rows", "-3", "--output", str(tmp_path / "bad.parquet")])
