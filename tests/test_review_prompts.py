"""Prompt-level review (the default) against a real local Argilla server (tests/argilla_stack.py): one record per
flagged prompt with every completion on the page, two annotator users answering, pull (agreement, resolved_by,
unusable answers listed with their record), apply; plus the page text, guidelines and agreement figures without a
server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ufrows import completion, row, write_parquet

from notus_data.errors import OptionError
from notus_data.io import report_path
from notus_data.jobs.binarize import binarize
from notus_data.jobs.flag import flag
from notus_data.recipes.runner import run
from notus_data.review.agreement import agreement
from notus_data.review.guidelines import prompt_guidelines
from notus_data.review.pull import pull
from notus_data.review.push import push
from notus_data.steps.flag import PLAIN_WORDS, REASONS

pytest_plugins = ["argilla_stack"]
pytestmark = pytest.mark.filterwarnings("ignore:Support for class-based `config`:DeprecationWarning")

NEGATIVE = "Your answer is wrong and does not address the question at all."
POSITIVE = "Your answer is accurate, clear and helpful."


def comp(text, overall, rating, critique=POSITIVE):
    return completion(
        response=text, ratings=(str(rating),) * 4, overall=overall, critique=critique, model=text[:2]
    )


def rows():
    return [
        row("P1", [comp("P1 bugged", 10, 1, NEGATIVE), comp("P1 good", 7, 4), comp("P1 weak", 4, 2)]),
        row("P2", [comp("P2 broken", 9, 2, NEGATIVE), comp("P2 good", 8, 5), comp("P2 poor", 3, 1)]),
        row("P3", [comp("P3 top", 10, 3), comp("P3 mid", 6, 3), comp("P3 low", 5, 3)]),
        row("P4", [comp("P4 a", 8, 4), comp("P4 b", 5, 3)]),
    ]


# ------------------------------------------------------------------------------------------ without a server


def test_readme_flag_table_holds_the_plain_words():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for reason, sentence in PLAIN_WORDS.items():
        line = next(x for x in readme.splitlines() if x.startswith(f"| `{reason}` |"))
        assert sentence in line, reason
    assert set(PLAIN_WORDS) == set(REASONS)


def test_guidelines_explain_the_flags_present_and_every_answer():
    text = prompt_guidelines({"score10_low_rating": 2, "chosen_mismatch": 5}, prompts=3, min_submitted=2)
    assert PLAIN_WORDS["score10_low_rating"] in text and PLAIN_WORDS["chosen_mismatch"] in text
    assert "negative_critique" not in text  # no such flag in this data
    for answer in ("**confirm**", "**correct**", "**exclude**", "Discard", "ranking"):
        assert answer in text, answer
    assert "**2** reviewers" in text


def test_agreement_figures():
    two = {
        "a": {"r1": "confirm", "r2": "confirm"},
        "b": {"r1": "confirm", "r2": "discard"},
        "c": {"r1": "discard", "r2": "discard"},
        "d": {"r1": "correct", "r2": "correct"},
    }
    got = agreement(two)
    # kappa by hand: p_o = 3/4; r1 (2 confirm, 1 discard, 1 correct), r2 (1, 2, 1): p_e = (2+2+1)/16
    assert got["share_agreeing"] == 0.75 and got["cohen_kappa"] == round((0.75 - 5 / 16) / (1 - 5 / 16), 4)
    assert got["krippendorff_alpha"] is not None and 0 < got["krippendorff_alpha"] < 1
    perfect = agreement({"a": {"r1": 1.0, "r2": 1.0}, "b": {"r1": 3.0, "r2": 3.0}}, metric="interval")
    assert perfect["krippendorff_alpha"] == 1.0 and perfect["share_agreeing"] == 1.0
    three = agreement({"a": {"r1": "x", "r2": "x", "r3": "y"}})
    assert three["cohen_kappa"] is None and three["reviewers"] == 3 and three["share_agreeing"] == 0.0
    assert agreement({"a": {"r1": "x"}})["items"] == 0


def test_score_human_ranks_by_the_review_and_falls_back_to_the_mean_rating(tmp_path):
    data = write_parquet(tmp_path / "uf.parquet", rows())
    flag(data, tmp_path / "flagged.parquet")
    pid = {r["instruction"]: r["prompt_id"] for r in pq.read_table(tmp_path / "flagged.parquet").to_pylist()}
    # P3 (mean ratings all 3: a tie, no pair by avg-rating) ranked: low best, top worst
    decisions = pa.table(
        {
            "prompt_id": [pid["P3"]] * 3,
            "completion_index": [0, 1, 2],
            "decision": ["confirm", "rank", "rank"],
            "corrected_score": pa.nulls(3, pa.float64()),
            "human_rank": [3.0, 2.0, 1.0],
        }
    )
    pq.write_table(decisions, tmp_path / "d.parquet")
    by_rating = binarize(data, tmp_path / "rating.parquet", strategy="best-vs-worst")
    human = binarize(
        data,
        tmp_path / "human.parquet",
        decisions=tmp_path / "d.parquet",
        strategy="best-vs-worst",
        score="human",
    )

    def pairs(name):
        return {
            r["instruction"]: (r["chosen_response"], r["rejected_response"])
            for r in pq.read_table(tmp_path / name).to_pylist()
        }

    assert "P3" not in pairs("rating.parquet") and by_rating.dropped.get("tie") == 1
    assert pairs("human.parquet")["P3"] == ("P3 low", "P3 top")
    assert {k: v for k, v in pairs("human.parquet").items() if k != "P3"} == pairs("rating.parquet")
    assert human.steps["decisions"]["ranked"] == 3 and human.steps["score"]["human_ranked_prompts"] == 1
    with pytest.raises(OptionError, match="--decisions"):
        binarize(data, tmp_path / "x.parquet", score="human")
    # a decisions file without ranks applies exactly as before (no ranked count, no human_rank column)
    pq.write_table(decisions.drop_columns(["human_rank"]), tmp_path / "plain.parquet")
    plain = binarize(
        data, tmp_path / "out.parquet", decisions=tmp_path / "plain.parquet", strategy="best-vs-worst"
    )
    assert "ranked" not in plain.steps["decisions"] and plain.steps["decisions"]["decisions_matched"] == 3
    assert pairs("out.parquet") == pairs("rating.parquet")


def test_every_unusable_answer_is_listed_with_its_record_and_question():
    from notus_data.review.answers import read_prompt_record

    def response(user, status="submitted", at="2026-01-01T10", **values):
        return {
            "user_id": user,
            "status": status,
            "updated_at": at,
            "values": {k: {"value": v} for k, v in values.items()},
        }

    record = {
        "external_id": "P",
        "metadata": {"source": "s", "review_keys": ["1|0|aa|1", "2|1|bb|1", "3|2|cc|0"]},
        "responses": [
            # confirm with a score left in (from a suggestion): the verdict counts, the score is listed as ignored
            response("u1", verdict_1="confirm", score_1=4, checked="done"),  # done, but slot 2 (flagged) unjudged
            response("u2", verdict_1="correct", verdict_2="exclude", verdict_4="confirm", checked="done"),
            response("u3", status="draft", verdict_1="exclude"),
            response("u4", status="discarded", verdict_2="exclude"),
            response("u5", status="discarded"),  # a discard with no verdict: nothing to list
        ],
    }  # fmt: skip
    read = read_prompt_record(record, {"u1": "ann-one"})
    listed = {(u.user, u.problem, u.question, u.completion_index) for u in read.unusable}
    assert listed == {
        ("ann-one", "score_ignored", "score_1", 0),
        ("ann-one", "unjudged_flagged", "verdict_2", 1),
        ("u2", "correct_without_score", "verdict_1", 0),
        ("u2", "verdict_on_empty_slot", "verdict_4", None),
        ("u3", "draft", None, None),
        ("u4", "discarded_with_verdict", None, None),
    }
    assert read.submitted == 2
    first, second, third = read.items
    assert [(a.user, a.verdict, a.corrected_score, a.usable) for a in first.answers] == [
        ("ann-one", "confirm", None, True),
        ("u2", "correct", None, False),
    ]
    assert [(a.user, a.verdict) for a in second.answers] == [("u2", "discard")]  # exclude is written discard
    assert third.answers == [] and third.flagged is False and second.response_sha256 == "bb"


# ------------------------------------------------------------------------------------------ a real server


def records_by_instruction(client, dataset):
    ds = client.datasets(name=dataset, workspace="argilla")
    return {r.fields["instruction"]: r for r in ds.records(with_suggestions=True, with_responses=False)}


def answer(client, record, status="submitted", **values):
    body = {"values": {k: {"value": v} for k, v in values.items()}, "status": status}
    client.http_client.post(f"/api/v1/records/{record._server_id}/responses", json=body).raise_for_status()


def test_prompt_level_loop_with_two_reviewers(argilla_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    data = write_parquet(tmp_path / "uf.parquet", rows())
    flagged = tmp_path / "flagged.parquet"
    flag(data, flagged)
    flagged_rows = pq.read_table(flagged).to_pylist()
    flagged_prompts = {r["instruction"] for r in flagged_rows}
    assert flagged_prompts == {"P1", "P2", "P3"}

    ann1 = argilla_stack.create_annotator("prompt-one")
    ann2 = argilla_stack.create_annotator("prompt-two")
    first = push(flagged, dataset="prompts")  # the default: one record per flagged prompt
    assert first.info["level"] == "prompt" and first.steps["push"]["records_added"] == 3
    assert first.rows_in == len(flagged_rows) and first.rows_out == 3
    assert (
        first.steps["push"]["prompts_without_data"] == 0
    )  # the other completions came from the flagged input
    # two (or, with the other tests' users, more) annotators and min_submitted 1: push warns
    assert any(
        "annotators but a record leaves the queue after one submitted answer" in w
        for w in first.info["warnings"]
    )
    again = push(flagged, dataset="prompts")
    assert again.steps["push"]["records_added"] == 0 and again.dropped["already_in_dataset"] == len(
        flagged_rows
    )

    records = records_by_instruction(argilla_stack.owner_client(), "prompts")
    p1 = records["P1"]
    page = p1.fields["completion_1"]
    # the page holds the scores block and the flags in plain words, for every completion of the prompt
    assert "**FLAGGED**" in page and "overall_score** (critique, 1-10): 10" in page
    assert "mean rating** (of the aspect ratings, 1-5): 1 = 1 on the 1-10 scale" in page
    assert PLAIN_WORDS["score10_low_rating"] in page and "P1 bugged" in page and NEGATIVE in page
    # each aspect's rating with its rationale, read from the raw input (ufrows: "r", and "rr" for the rating)
    assert "- honesty: **1**: r\n" in page and "- helpfulness: **1**: rr\n" in page
    assert "not flagged" in p1.fields["completion_2"] and "P1 good" in p1.fields["completion_2"]
    assert "mean rating** (of the aspect ratings, 1-5): 4 = 7.75" in p1.fields["completion_2"]
    assert p1.fields.get("completion_4") in (None, "")
    suggestion = p1.suggestions["verdict_1"]
    assert suggestion.value == "correct" and suggestion.agent.startswith(
        "notus-data flag: score10_low_rating"
    )
    assert suggestion.score == 0.9 and p1.suggestions["score_1"].value == 1
    assert "verdict_2" not in [s.question_name for s in p1.suggestions]

    p2, p3 = records["P2"], records["P3"]
    # P1: both correct 10 -> 1 (unanimous); reviewer two also ranks
    answer(ann1, p1, verdict_1="correct", score_1=1, checked="done", note="stored 1 as 10")
    answer(
        ann2,
        p1,
        verdict_1="correct",
        score_1=1,
        checked="done",
        ranking=[{"value": "completion_2", "rank": 1}, {"value": "completion_3", "rank": 2}]
        + [{"value": "completion_1", "rank": 3}, {"value": "completion_4", "rank": 4}],
    )
    # P2: one excludes, one corrects without a score (unusable, listed); the exclusion stands alone
    answer(ann1, p2, verdict_1="exclude", checked="done")
    answer(ann2, p2, verdict_1="correct", checked="done")
    # P3: one confirms; the other discards the record with Argilla's own button, with a verdict on it
    answer(ann1, p3, verdict_1="confirm", checked="done")
    answer(ann2, p3, status="discarded", verdict_1="exclude")

    decisions_file = tmp_path / "decisions.parquet"
    pulled = pull(decisions_file, dataset="prompts")
    decisions = {
        (d["prompt_id"], d["completion_index"]): d for d in pq.read_table(decisions_file).to_pylist()
    }
    pid = {r["instruction"]: r["prompt_id"] for r in flagged_rows}
    # P1's ranking gives its two unjudged completions a rank-only decision
    assert set(decisions) == {(pid["P1"], 0), (pid["P1"], 1), (pid["P1"], 2), (pid["P2"], 0), (pid["P3"], 0)}
    ranks = {i: decisions[(pid["P1"], i)]["human_rank"] for i in range(3)}
    assert ranks == {0: 3.0, 1: 1.0, 2: 2.0} and decisions[(pid["P2"], 0)]["human_rank"] is None
    assert (
        decisions[(pid["P1"], 1)]["decision"] == "rank"
        and decisions[(pid["P1"], 1)]["corrected_score"] is None
    )
    assert pulled.info["agreement"]["ranking"]["items"] == 0  # one reviewer ranked
    d1, d2, d3 = decisions[(pid["P1"], 0)], decisions[(pid["P2"], 0)], decisions[(pid["P3"], 0)]
    assert (d1["decision"], d1["corrected_score"], d1["resolved_by"], d1["score_resolved_by"]) == (
        "correct",
        1.0,
        "unanimous",
        "unanimous",
    )
    assert d1["record_id"] == f"{pid['P1']}-0" and d1["annotators"] == ["prompt-one", "prompt-two"]
    assert d1["notes"] == ["prompt-one: stored 1 as 10"]
    assert (d2["decision"], d2["resolved_by"], d2["n_answers"]) == ("discard", "single_answer", 1)
    assert (d3["decision"], d3["resolved_by"]) == ("confirm", "single_answer")
    sha = {(r["prompt_id"], r["completion_index"]): r["response_sha256"] for r in flagged_rows}
    assert all(d["response_sha256"] == sha.get(key, d["response_sha256"]) for key, d in decisions.items())
    assert all(len(d["response_sha256"] or "") == 64 for d in decisions.values())  # unflagged ones too

    problems = {(u["record_id"], u["user"], u["problem"]) for u in pulled.info["unusable_answers"]}
    assert problems == {
        (pid["P2"], "prompt-two", "correct_without_score"),
        (pid["P3"], "prompt-two", "discarded_with_verdict"),
    }
    verdict_agreement = pulled.info["agreement"]["verdict"]
    assert verdict_agreement["items"] == 1 and verdict_agreement["share_agreeing"] == 1.0  # only P1 has two
    assert verdict_agreement["reviewers"] == 2
    saved = json.loads(report_path(decisions_file).read_text())
    assert saved["info"]["agreement"] == pulled.info["agreement"]
    assert saved["steps"]["pull"]["unusable_answers"] == {
        "correct_without_score": 1,
        "discarded_with_verdict": 1,
    }
    # every completion shown is accounted for: 3 decisions, the unflagged ones have no verdict
    assert pulled.rows_out == 5 and pulled.dropped == {"no_verdict": pulled.rows_in - 5}

    # the decisions apply as before: P1's 10 corrected to 1, P2's broken completion out of the pairs
    options = {"strategy": "best-vs-worst", "score": "overall-score"}
    report = binarize(data, tmp_path / "after.parquet", decisions=decisions_file, **options)
    pairs = {
        r["instruction"]: (r["chosen_response"], r["rejected_response"])
        for r in pq.read_table(tmp_path / "after.parquet").to_pylist()
    }
    assert pairs["P1"] == ("P1 good", "P1 bugged") and pairs["P2"] == ("P2 good", "P2 poor")
    assert report.steps["decisions"]["score_corrected"] == 1 and report.steps["decisions"]["discarded"] == 1
    # --score human: P1 by the reviewer's ranking, the other prompts by the mean rating (the stated fallback)
    human = binarize(
        data, tmp_path / "human.parquet", decisions=decisions_file, strategy="best-vs-worst", score="human"
    )
    pairs = {
        r["instruction"]: (r["chosen_response"], r["rejected_response"])
        for r in pq.read_table(tmp_path / "human.parquet").to_pylist()
    }
    assert pairs["P1"] == ("P1 good", "P1 bugged") and pairs["P2"] == ("P2 good", "P2 poor")
    assert human.steps["decisions"]["ranked"] == 3
    assert (human.steps["score"]["human_ranked_prompts"], human.steps["score"]["human_fallback_prompts"]) == (
        1,
        3,
    )

    # a recipe run with these decisions says on its card what was applied and how much the reviewers agreed
    run("notus-v1", input=str(data), output=tmp_path / "run", decisions=str(decisions_file), plots=False)
    card = (tmp_path / "run" / "README.md").read_text()
    applied = next(x for x in card.splitlines() if x.startswith("Review decisions applied before scoring"))
    assert (
        "5 decisions, 5 matched a completion: 1 confirmed, 1 score corrected, 1 excluded from pairing"
        in applied
    )
    assert "Reviewed by 2 reviewers in a prompt-level Argilla review" in applied
    assert "100% of the 1 completions answered by two or more agree" in applied
    assert "2 answers could not be used" in applied

    # the key reached no output
    for path in tmp_path.iterdir():
        if path.is_file():
            assert argilla_stack.api_key.encode() not in path.read_bytes(), path
    assert not re.search(argilla_stack.api_key, json.dumps(pulled.info))
