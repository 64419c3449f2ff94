"""Flagging: each rule at its thresholds, the critique lexicon, the job's output and report, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ufrows import completion, row, write_jsonl, write_parquet

from notus_data.cli.flag import flag_command
from notus_data.critique import critique_negativity
from notus_data.errors import OptionError, SchemaError
from notus_data.io import load_ultrafeedback, report_path
from notus_data.jobs.flag import flag
from notus_data.steps.flag import FLAGGED_SCHEMA, REASONS, FlagOptions, flag_table

NEUTRAL = "The response answers the question."


def comp(overall, rating, critique=NEUTRAL, response=None, model="m"):
    ratings = (str(rating),) * 4 if not isinstance(rating, tuple) else rating
    return completion(
        response=response or f"answer scored {overall}/{rating}",
        ratings=ratings,
        overall=overall,
        critique=critique,
        model=model,
    )


def canonical(tmp_path, rows):
    path = write_parquet(tmp_path / "rows.parquet", rows)
    return pa.concat_tables(list(load_ultrafeedback(path, with_critique=True).iter_batches()))


def flags_of(tmp_path, rows, **options):
    """{(row_index, completion_index): reasons} of the flagged completions."""
    flagged = flag_table(canonical(tmp_path, rows), FlagOptions(**options))
    return {(r["row_index"], r["completion_index"]): r["reasons"] for r in flagged.to_pylist()}, flagged


# ------------------------------------------------------------------------------------------ the fix rule


def test_fix_rule_at_its_boundaries(tmp_path):
    rows = [
        row("low", [comp(10, 1), comp(10, 2)]),  # mean 1 and mean 2: should be 1
        row("mid", [comp(10, ("2", "2", "3", "2")), comp(10, 4)]),  # mean 2.25 and 4: needs a judgement
        row("fine", [comp(10, ("4", "4", "5", "4")), comp(9, 5)]),  # mean 4.25: the 10 stands
    ]
    flags, flagged = flags_of(tmp_path, rows, rules="score10_low_rating,score10_mid_rating")
    assert flags == {
        (0, 0): ["score10_low_rating"],
        (0, 1): ["score10_low_rating"],
        (1, 0): ["score10_mid_rating"],
        (1, 1): ["score10_mid_rating"],
    }
    by_key = {(r["row_index"], r["completion_index"]): r for r in flagged.to_pylist()}
    assert by_key[(0, 0)]["suggested_score"] == 1.0  # the data set's own fix
    assert by_key[(1, 0)]["suggested_score"] == round(1 + 1.25 * 9 / 4)  # the rating on the 1-10 scale
    assert by_key[(1, 0)]["avg_rating"] == 2.25


def test_fix_rule_thresholds_are_options(tmp_path):
    rows = [row("p", [comp(10, 3), comp(9.5, 1)])]
    assert flags_of(tmp_path, rows, rules="score10_low_rating")[0] == {}
    flags, _ = flags_of(tmp_path, rows, rules="score10_low_rating", low_rating_max=3.0)
    assert flags == {(0, 0): ["score10_low_rating"]}
    flags, _ = flags_of(tmp_path, rows, rules="score10_low_rating", top_score=9.5)
    assert flags == {(0, 1): ["score10_low_rating"]}


# ------------------------------------------------------------------------------------------ disagreement


def test_disagreement_puts_both_scores_on_one_scale(tmp_path):
    rows = [
        row(
            "p",
            [
                comp(2, 5),  # rating 5 -> 10 on the scale: gap 8
                comp(7, 4),  # 4 -> 7.75: gap 0.75
                comp(9, ("3", "3", "2", "2")),  # 2.5 -> 4.375: gap 4.625
                comp(6, 1),  # 1 -> 1: gap 5
            ],
        )
    ]
    flags, flagged = flags_of(tmp_path, rows, rules="score_rating_disagree")
    assert set(flags) == {(0, 0), (0, 2), (0, 3)}
    gaps = {r["completion_index"]: r["score_gap"] for r in flagged.to_pylist()}
    assert (
        gaps[0] == pytest.approx(-8.0) and gaps[2] == pytest.approx(4.625) and gaps[3] == pytest.approx(5.0)
    )
    assert set(flags_of(tmp_path, rows, rules="score_rating_disagree", disagreement=4.7)[0]) == {
        (0, 0),
        (0, 3),
    }


# ------------------------------------------------------------------------------------------ the critique


def test_critique_negativity_reads_critique_wording():
    texts = [
        "The response is incorrect and misleading.",
        "Your answer is accurate, well organized and directly addresses the question.",
        "Your answer is not accurate and not helpful.",
        "The answer is clear and has no errors.",
        "Your answer is generally correct but could be more specific.",
        "Lorem ipsum dolor.",
        None,
    ]
    score = critique_negativity(pa.array(texts))
    assert score[0] == 1.0 and score[2] == 1.0  # negated positives read negative
    assert score[1] == -1.0 and score[3] == -1.0  # "no errors" reads positive
    assert -0.5 < score[4] < 0.5  # mixed
    assert score[5] == 0.0 and np.isnan(score[6])


def test_negative_critique_needs_a_high_score(tmp_path):
    bad = "This response fails the task: it is inaccurate, unhelpful and misleading."
    rows = [
        row(
            "p",
            [
                comp(9, 4, critique=bad),  # flagged
                comp(3, 1, critique=bad),  # low score: the critique agrees
                comp(9, 4, critique="Excellent, accurate and helpful."),
                comp(9, 4, critique="Some details are missing."),  # mildly negative: below min_negative_words
                comp(9, 4, critique=None),
            ],
        )
    ]
    flags, flagged = flags_of(tmp_path, rows, rules="negative_critique")
    assert flags == {(0, 0): ["negative_critique"]}
    assert flagged.column("critique").to_pylist() == [bad]
    assert flagged.column("critique_negativity").to_pylist() == [1.0]
    assert flags_of(tmp_path, rows, rules="negative_critique", high_score=9.5)[0] == {}


# ------------------------------------------------------------------------------------------ per prompt


def test_chosen_mismatch_flags_the_score_choice_when_no_completion_tops_both(tmp_path):
    rows = [
        row("mismatch", [comp(9, 3), comp(6, 5), comp(5, 2)]),  # score picks 0, rating picks 1
        row("agree", [comp(9, 5), comp(6, 3)]),
        row("tie", [comp(8, 5), comp(8, 3), comp(7, 4)]),  # 0 tops both (tied on score)
        row("tied score", [comp(8, 3), comp(8, 3), comp(7, 5)]),  # both score-tops flagged
        row("single", [comp(9, 1)]),  # nothing to compare with
    ]
    flags, _ = flags_of(tmp_path, rows, rules="chosen_mismatch")
    assert flags == {(0, 0): ["chosen_mismatch"], (3, 0): ["chosen_mismatch"], (3, 1): ["chosen_mismatch"]}


# ------------------------------------------------------------------------------------------ all together


def test_reasons_in_fixed_order_and_unusable_completions_skipped(tmp_path):
    bad = "Your answer is wrong and does not address the question at all."
    rows = [
        row(
            "p",
            [
                comp(10, 1, critique=bad),
                comp(6, 4),
                completion(response=None, overall=10, ratings=("1",) * 4),
            ],
        ),
        row(None, [comp(10, 1)]),  # invalid row: never flagged
        row("q", [comp(10, ("N/A",) * 4), comp(4, 2)]),  # no rating: only the score-based rules can't fire
    ]
    flags, flagged = flags_of(tmp_path, rows)
    assert flags == {
        (0, 0): ["score10_low_rating", "score_rating_disagree", "negative_critique", "chosen_mismatch"]
    }
    assert flagged.schema.equals(FLAGGED_SCHEMA)
    record = flagged.to_pylist()[0]
    assert record["response"] == "answer scored 10/1" and record["model"] == "m"
    assert len(record["response_sha256"]) == 64 and record["rating_as_score"] == 1.0


def test_options_are_validated():
    with pytest.raises(OptionError, match="rules"):
        FlagOptions(rules="score10,chosen_mismatch")
    with pytest.raises(OptionError, match="low_rating_max"):
        FlagOptions(low_rating_max=4.5, mid_rating_max=4)
    with pytest.raises(OptionError, match="critique_negativity"):
        FlagOptions(critique_negativity=2)
    assert FlagOptions().rules == tuple(REASONS)


# ------------------------------------------------------------------------------------------ the job


def job_rows():
    bad = "The answer is entirely off-topic and contains fabricated information."
    return [
        row("a", [comp(10, 1, critique=bad), comp(7, 4), comp(3, 2)], source="sharegpt"),
        row("b", [comp(10, 3), comp(6, 3)], source="evol_instruct"),
        row("c", [comp(8, 4), comp(5, 3)], source="evol_instruct"),
        row(None, [comp(9, 4)], source="ultrachat"),
    ]


def test_flag_job_writes_output_and_counts_by_reason_and_source(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", job_rows())
    out = tmp_path / "flagged.parquet"
    flag(path, out)
    table = pq.read_table(out)
    assert table.schema.equals(FLAGGED_SCHEMA)
    assert [(r["row_index"], r["completion_index"]) for r in table.to_pylist()] == [(0, 0), (1, 0)]
    saved = json.loads(report_path(out).read_text())
    assert saved["rows_in"] == 4 and saved["rows_with_pairs"] == 2 and saved["rows_out"] == 2
    assert saved["dropped"] == {"invalid_row": 1, "not_flagged": 1}
    section = saved["steps"]["flag"]
    assert section["completions"] == 8 and section["completions_flagged"] == 2
    assert section["by_reason"] == {
        "score10_low_rating": 1,
        "score_rating_disagree": 1,
        "negative_critique": 1,
        "score10_mid_rating": 1,
        "chosen_mismatch": 1,  # row a: overall_score picks completion 0, the ratings completion 1
    }
    assert section["by_source"] == {
        "evol_instruct": {"score10_mid_rating": 1},
        "sharegpt": {
            "chosen_mismatch": 1,
            "negative_critique": 1,
            "score10_low_rating": 1,
            "score_rating_disagree": 1,
        },
    }


def test_flag_output_is_the_same_whatever_the_batch_size(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", job_rows() * 5)
    flag(path, tmp_path / "a.parquet", batch_size=1)
    flag(path, tmp_path / "b.parquet", batch_size=4096)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_flag_reads_jsonl_and_writes_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", job_rows())
    report = flag(path, tmp_path / "out.jsonl", rules="score10_low_rating")
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["reasons"] for x in lines] == [["score10_low_rating"]] and report.rows_out == 1


def test_negative_critique_rule_needs_the_critique_field(tmp_path):
    rows = job_rows()
    for r in rows:
        for c in r["completions"]:
            del c["critique"]
    path = write_parquet(tmp_path / "in.parquet", rows)
    with pytest.raises(SchemaError, match=r"completions\[\]\.critique.*--rules"):
        flag(path, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    report = flag(path, tmp_path / "out.parquet", rules="score10_low_rating,score10_mid_rating")
    assert report.rows_out == 2


def test_synthetic_critique_bug_rows_are_all_flagged(tmp_path):
    """The synthetic generator plants the critique-score bug at known rows; the fix rule finds every one."""
    from notus_data import synthetic

    path = tmp_path / "syn.parquet"
    synthetic.write_parquet(path, n_rows=1000, seed=3)
    planted = synthetic.edge_case_rows(1000)
    flagged = pq.read_table(flag(path, tmp_path / "f.parquet").info["output"]).to_pylist()
    reasons_by_row: dict[int, set[str]] = {}
    for r in flagged:
        reasons_by_row.setdefault(r["row_index"], set()).update(r["reasons"])
    for kind, reason in (
        ("critique_bug_low", "score10_low_rating"),
        ("critique_bug_mid", "score10_mid_rating"),
    ):
        assert planted[kind], kind
        for r in planted[kind]:
            assert {reason, "negative_critique"} <= reasons_by_row.get(r, set()), (kind, r)


# ------------------------------------------------------------------------------------------ CLI


def test_cli_flag(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", job_rows())
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(flag_command, [str(path), str(out), "--disagreement", "6", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "2 flagged completions in 2 prompts" in result.output
    assert pq.read_table(out).num_rows == 2
    bad = CliRunner().invoke(flag_command, [str(path), str(out), "--rules", "nope"])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [
        "Error: rules: ['nope'] not usable; choose from " + ", ".join(REASONS)
    ]
