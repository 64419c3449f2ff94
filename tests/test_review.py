"""Review in Argilla: the decision rule and apply_decisions (no server), then the whole loop against a real local
Argilla server started by the ``argilla_stack`` fixture (tests/argilla_stack.py): flag, push (twice), answers by
two separate annotator users, pull, apply, binarize; and the one-line errors for a down server and a bad key.
"""

from __future__ import annotations

import json
import logging
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from ufrows import completion, row, write_parquet

from notus_data.cli.review import review_group
from notus_data.errors import SchemaError
from notus_data.io import load_ultrafeedback, report_path
from notus_data.jobs.binarize import binarize
from notus_data.jobs.flag import flag
from notus_data.review.apply import apply
from notus_data.review.client import ArgillaConnectionError, ConnectionOptions, connect
from notus_data.review.pull import Answer, pull, resolve
from notus_data.review.push import push, record_id
from notus_data.steps.decisions import DecisionTracker, apply_decisions, check_decisions

pytest_plugins = ["argilla_stack"]
# the argilla SDK 2.8 still declares a pydantic v1-style Config
pytestmark = pytest.mark.filterwarnings("ignore:Support for class-based `config`:DeprecationWarning")

NEGATIVE = "Your answer is wrong and does not address the question at all."
POSITIVE = "Your answer is accurate, clear and helpful."


def comp(text, overall, rating, critique=POSITIVE):
    return completion(
        response=text, ratings=(str(rating),) * 4, overall=overall, critique=critique, model=text[:2]
    )


def loop_rows():
    """Prompts whose pairs (best-vs-worst on overall_score) the decisions below change in known ways."""
    return [
        # P1: the critique-score bug (10 that should be 1); reviewers correct it to 1
        row("P1", [comp("P1 bugged", 10, 1, NEGATIVE), comp("P1 good", 7, 4), comp("P1 weak", 4, 2)]),
        # P2: a negative critique with a high score; one reviewer discards, one confirms, the discard is newer
        row(
            "P2",
            [comp("P2 broken", 9, 2, NEGATIVE), comp("P2 good", 8, 5), comp("P2 poor", 3, 1)],
            "sharegpt",
        ),
        # P3: a 10 with a mean rating of 3 (needs a judgement); confirmed
        row("P3", [comp("P3 top", 10, 3), comp("P3 mid", 6, 3), comp("P3 low", 5, 3)]),
        # P4: nothing suspicious
        row("P4", [comp("P4 a", 8, 4), comp("P4 b", 5, 3)]),
        # P5: a low score with top ratings (flagged); nobody reviews it
        row("P5", [comp("P5 under", 2, 5), comp("P5 other", 6, 3)]),
    ]


# ------------------------------------------------------------------------------------------ the decision rule


def ans(user, verdict, at, score=None, note=None):
    return Answer(user=user, verdict=verdict, corrected_score=score, note=note, updated_at=at)


def test_resolve_majority_then_most_recent():
    assert resolve([ans("a", "confirm", "1"), ans("b", "discard", "2"), ans("c", "confirm", "3")])[
        "decision"
    ] == ("confirm")
    tie = resolve([ans("a", "discard", "2024-01-02T10"), ans("b", "confirm", "2024-01-02T11")])
    assert (tie["decision"], tie["resolved_by"], tie["n_agree"]) == ("confirm", "most_recent", 1)
    one = resolve([ans("a", "correct", "1", score=1.0, note=" bug ")])
    assert (one["decision"], one["corrected_score"], one["resolved_by"], one["notes"]) == (
        "correct",
        1.0,
        "single_answer",  # one answer: not called unanimous
        ["a: bug"],
    )


def test_resolve_corrected_score_and_unusable_answers():
    answers = [
        ans("a", "correct", "1", score=2.0),
        ans("b", "correct", "2", score=3.0),
        ans("c", "correct", "3", score=2.0),
        ans("d", "correct", "4"),  # correct without a score: not usable
        ans("e", "discard", "5"),
    ]
    decision = resolve(answers)
    assert decision["decision"] == "correct" and decision["corrected_score"] == 2.0
    assert decision["n_answers"] == 4 and decision["annotators"] == ["a", "b", "c", "e"]
    assert resolve([ans("d", "correct", "4")]) is None


# ------------------------------------------------------------------------------------------ apply_decisions


def canonical(tmp_path, rows):
    path = write_parquet(tmp_path / "rows.parquet", rows)
    return pa.concat_tables(list(load_ultrafeedback(path, with_critique=True).iter_batches()))


def decisions_for(table, items):
    """A decisions table for (row, completion index, decision, corrected score[, sha override])."""
    pids = table.column("prompt_id").to_pylist()
    return pa.table(
        {
            "prompt_id": [pids[r] for r, *_ in items],
            "completion_index": [i for _, i, *_ in items],
            "decision": [d for _, _, d, *_ in items],
            "corrected_score": pa.array([s for _, _, _, s, *_ in items], pa.float64()),
        }
    )


def test_apply_decisions_corrects_and_discards_without_touching_the_rest(tmp_path):
    table = canonical(tmp_path, loop_rows())
    before = table.to_pylist()
    decisions = decisions_for(
        table, [(0, 0, "correct", 1.0), (1, 0, "discard", None), (2, 0, "confirm", None)]
    )
    new, counts = apply_decisions(table, decisions)
    assert counts == {
        "decisions_matched": 3,
        "confirmed": 1,
        "score_corrected": 1,
        "discarded": 1,
        "text_differs": 0,
    }
    assert table.to_pylist() == before  # pure
    after = new.to_pylist()
    assert after[0]["completions"][0]["overall_score"] == 1.0
    discarded = after[1]["completions"][0]
    assert discarded["response"] == "P2 broken"
    assert [discarded[k] for k in ("overall_score", "honesty", "helpfulness", "fine_grained_score")] == [
        None
    ] * 4
    for r in (0, 1, 2, 3):  # every other completion as it was
        for i, c in enumerate(after[r]["completions"]):
            if (r, i) not in ((0, 0), (1, 0)):
                assert c == before[r]["completions"][i]


def test_apply_skips_decisions_on_other_text_and_counts_unmatched(tmp_path):
    table = canonical(tmp_path, loop_rows())
    decisions = decisions_for(table, [(0, 0, "correct", 1.0), (1, 0, "discard", None)])
    decisions = decisions.append_column(
        "response_sha256", pa.array(["0" * 64, None], pa.string())
    )  # the first was reviewed on another text
    decisions = pa.concat_tables(
        [
            decisions,
            pa.table(
                {
                    "prompt_id": ["f" * 64],
                    "completion_index": [0],
                    "decision": ["discard"],
                    "corrected_score": pa.array([None], pa.float64()),
                    "response_sha256": pa.array([None], pa.string()),
                }
            ),
        ]
    )
    tracker = DecisionTracker(decisions)
    first = tracker.apply(table.slice(0, 2))
    tracker.apply(table.slice(2))
    assert tracker.counts() == {
        "decisions": 3,
        "decisions_matched": 2,
        "confirmed": 0,
        "score_corrected": 0,
        "discarded": 1,
        "text_differs": 1,
        "unmatched": 1,
    }
    assert first.to_pylist()[0]["completions"][0]["overall_score"] == 10.0
    assert [c["status"] for c in tracker.changes().to_pylist()] == ["text_differs", "applied", "unmatched"]


def test_bad_decisions_name_the_row_and_field(tmp_path):
    table = canonical(tmp_path, loop_rows())
    with pytest.raises(SchemaError, match=r"row 1: field 'decision' = 'maybe'"):
        check_decisions(decisions_for(table, [(0, 0, "confirm", None), (0, 1, "maybe", None)]))
    with pytest.raises(SchemaError, match=r"row 0: field 'corrected_score' = 11.0; expected a score in 1-10"):
        check_decisions(decisions_for(table, [(0, 0, "correct", 11.0)]))
    with pytest.raises(SchemaError, match=r"rows \[0, 1\]: two decisions for completion"):
        check_decisions(decisions_for(table, [(0, 0, "confirm", None), (0, 0, "discard", None)]))
    with pytest.raises(SchemaError, match="missing column"):
        check_decisions(pa.table({"prompt_id": ["x"]}))


# ------------------------------------------------------------------------------------------ connection errors


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_url_or_key_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    with pytest.raises(ArgillaConnectionError, match="set ARGILLA_API_URL"):
        connect(ConnectionOptions())
    with pytest.raises(ArgillaConnectionError, match="set ARGILLA_API_KEY"):
        connect(ConnectionOptions(api_url="http://127.0.0.1:1"))


def test_down_server_is_one_line_without_the_key(monkeypatch, tmp_path):
    secret = "sk-do-not-print-4242"
    monkeypatch.setenv("ARGILLA_API_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("ARGILLA_API_KEY", secret)
    with pytest.raises(ArgillaConnectionError, match="cannot reach the Argilla server") as info:
        connect(ConnectionOptions())
    assert secret not in str(info.value) and info.value.__cause__ is None and info.value.__context__ is None
    flagged = tmp_path / "f.parquet"
    flag(write_parquet(tmp_path / "in.parquet", loop_rows()), flagged)
    result = CliRunner().invoke(review_group, ["push", str(flagged)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: cannot reach the Argilla server at http://127.0.0.1:"
    )
    assert secret not in result.output


# ------------------------------------------------------------------------------------------ against the server


def test_bad_key_is_refused_in_one_line(argilla_stack, monkeypatch, tmp_path):
    secret = "owner.apikey-that-is-wrong-9876"
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", secret)
    result = CliRunner().invoke(review_group, ["pull", str(tmp_path / "d.parquet")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: the Argilla server at {argilla_stack.api_url} refused the API key (401 Unauthorized): "
        "check ARGILLA_API_KEY (or --api-key)"
    )
    assert not (tmp_path / "d.parquet").exists()


def records_by_id(client, dataset):
    ds = client.datasets(name=dataset, workspace="argilla")
    return {r.id: r for r in ds.records(with_suggestions=True, with_responses=False)}


def answer(client, record, status="submitted", **values):
    """Answer a record as the client's user, as the web UI does (POST /api/v1/records/{id}/responses)."""
    body = {"values": {k: {"value": v} for k, v in values.items()}, "status": status}
    client.http_client.post(f"/api/v1/records/{record._server_id}/responses", json=body).raise_for_status()


def test_review_loop_end_to_end(argilla_stack, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    data = write_parquet(tmp_path / "uf.parquet", loop_rows())
    flagged = tmp_path / "flagged.parquet"
    flag(data, flagged)
    flagged_rows = pq.read_table(flagged).to_pylist()
    keys = {(r["instruction"], r["completion_index"]) for r in flagged_rows}
    assert keys == {("P1", 0), ("P2", 0), ("P3", 0), ("P5", 0), ("P5", 1)}

    # push, then push again: nothing is added twice
    first = push(flagged, level="completion", dataset="loop", batch_size=2)
    assert first.rows_out == len(flagged_rows) and first.info["dataset_created"] is True
    result = CliRunner().invoke(
        review_group, ["push", str(flagged), "--dataset", "loop", "--level", "completion", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert f"0 records added to 'loop' at {argilla_stack.api_url} ({len(flagged_rows)} already there)" in (
        result.output
    )
    owner = argilla_stack.owner_client()
    records = records_by_id(owner, "loop")
    assert len(records) == len(flagged_rows)
    pid = {r["instruction"]: r["prompt_id"] for r in flagged_rows}
    p1 = records[record_id(pid["P1"], 0)]
    assert p1.fields["critique"] == NEGATIVE
    assert p1.metadata["overall_score"] == 10.0 and "score10_low_rating" in p1.metadata["flags"]
    assert p1.suggestions["verdict"].value == "correct" and p1.suggestions["corrected_score"].value == 1

    # two separate annotator users answer
    ann1 = argilla_stack.create_annotator("reviewer-one")
    ann2 = argilla_stack.create_annotator("reviewer-two")
    assert ann1.me.role == "annotator"
    p2, p3 = records[record_id(pid["P2"], 0)], records[record_id(pid["P3"], 0)]
    answer(ann1, p1, verdict="correct", corrected_score=1, note="the critique-score bug")
    answer(ann2, p1, verdict="correct", corrected_score=1)
    answer(ann2, p2, verdict="confirm")
    answer(ann1, p2, verdict="discard", note="off-topic")  # newer: wins the 1-1 tie
    answer(ann1, p3, verdict="confirm")
    answer(ann2, p3, status="draft", verdict="discard")  # a draft does not count

    decisions_file = tmp_path / "decisions.parquet"
    result = CliRunner().invoke(review_group, ["pull", str(decisions_file), "--dataset", "loop", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "verdict agreement: 50% of 2 completions answered by two or more" in result.output
    decisions = {
        (d["prompt_id"], d["completion_index"]): d for d in pq.read_table(decisions_file).to_pylist()
    }
    assert set(decisions) == {(pid["P1"], 0), (pid["P2"], 0), (pid["P3"], 0)}
    d1, d2, d3 = decisions[(pid["P1"], 0)], decisions[(pid["P2"], 0)], decisions[(pid["P3"], 0)]
    assert (d1["decision"], d1["corrected_score"], d1["resolved_by"], d1["n_answers"]) == (
        "correct",
        1.0,
        "unanimous",
        2,
    )
    assert d1["score_resolved_by"] == "unanimous" and d2["score_resolved_by"] is None
    assert d1["annotators"] == ["reviewer-one", "reviewer-two"]
    assert d1["notes"] == ["reviewer-one: the critique-score bug"]
    assert (d2["decision"], d2["resolved_by"], d2["n_agree"]) == ("discard", "most_recent", 1)
    assert (d3["decision"], d3["n_answers"]) == ("confirm", 1)
    pulled = json.loads(report_path(decisions_file).read_text())
    assert pulled["dropped"] == {"no_submitted_answer": 2}  # P5's two records
    # the draft is listed with its record, not folded into a count (also on the terminal)
    assert f"unusable answer: record {record_id(pid['P3'], 0)}, reviewer-two: draft" in result.output
    assert pulled["info"]["unusable_answers"] == [
        {"record_id": record_id(pid["P3"], 0), "user": "reviewer-two", "problem": "draft"}
    ]
    # two reviewers answered P1 and P2: agree on P1, not on P2
    assert pulled["info"]["agreement"]["verdict"]["items"] == 2
    assert pulled["info"]["agreement"]["verdict"]["share_agreeing"] == 0.5
    strict = pull(tmp_path / "strict.jsonl", dataset="loop", min_answers=2)
    assert strict.rows_out == 2 and strict.dropped["below_min_answers"] == 1  # P3 has one submitted answer

    # apply, binarize, and compare with the pairs made without the decisions
    options = {"strategy": "best-vs-worst", "score": "overall-score"}
    binarize(data, tmp_path / "before.parquet", **options)
    result = CliRunner().invoke(
        review_group,
        ["apply", str(data), str(tmp_path / "after.parquet"), "--decisions", str(decisions_file), "--quiet"]
        + ["--strategy", "best-vs-worst", "--score", "overall-score"],
    )
    assert result.exit_code == 0, result.output

    def pairs(name):
        return {
            r["instruction"]: (r["chosen_response"], r["rejected_response"])
            for r in pq.read_table(tmp_path / name).to_pylist()
        }

    assert pairs("before.parquet") == {
        "P1": ("P1 bugged", "P1 weak"),
        "P2": ("P2 broken", "P2 poor"),
        "P3": ("P3 top", "P3 low"),
        "P4": ("P4 a", "P4 b"),
        "P5": ("P5 other", "P5 under"),
    }
    assert pairs("after.parquet") == {
        "P1": ("P1 good", "P1 bugged"),  # 10 corrected to 1: now the worst
        "P2": ("P2 good", "P2 poor"),  # discarded: takes no part
        "P3": ("P3 top", "P3 low"),  # confirmed
        "P4": ("P4 a", "P4 b"),
        "P5": ("P5 other", "P5 under"),
    }
    report = json.loads(report_path(tmp_path / "after.parquet").read_text())
    assert report["steps"]["decisions"] == {
        "decisions": 3,
        "decisions_matched": 3,
        "confirmed": 1,
        "score_corrected": 1,
        "discarded": 1,
        "text_differs": 0,
        "unmatched": 0,
    }
    changes = [json.loads(x) for x in (tmp_path / "after.changes.jsonl").read_text().splitlines()]
    assert [
        (c["prompt_id"], c["decision"], c["old_overall_score"], c["new_overall_score"]) for c in changes
    ] == [
        (pid["P1"], "correct", 10.0, 1.0),
        (pid["P2"], "discard", 9.0, None),
        (pid["P3"], "confirm", 10.0, 10.0),
    ]
    # the same through the library function
    lib = apply(data, tmp_path / "lib.parquet", decisions=decisions_file, **options)
    assert lib.steps["decisions"]["score_corrected"] == 1
    assert (tmp_path / "lib.parquet").read_bytes() == (tmp_path / "after.parquet").read_bytes()

    # the key never reached a log line, a report or an output
    assert argilla_stack.api_key not in caplog.text
    for path in tmp_path.iterdir():
        if path.is_file():
            assert argilla_stack.api_key.encode() not in path.read_bytes(), path


def test_push_reuses_a_dataset_and_respects_reasons_and_limit(argilla_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    flagged = tmp_path / "flagged.parquet"
    flag(write_parquet(tmp_path / "uf.parquet", loop_rows()), flagged)
    only_bug = push(
        flagged, level="completion", dataset="partial", reasons="score10_low_rating,score10_mid_rating"
    )
    assert only_bug.rows_out == 2 and only_bug.dropped["reason_not_selected"] == only_bug.rows_in - 2
    more = push(flagged, level="completion", dataset="partial", limit=1)
    assert more.info["dataset_created"] is False and more.info["records_before"] == 2
    assert more.rows_out == 1 and more.dropped["already_in_dataset"] == 2
    assert len(records_by_id(argilla_stack.owner_client(), "partial")) == 3
    # a dataset that is not a review dataset is refused, not mixed into
    import argilla as rg

    other = rg.Dataset(
        name="not-review",
        workspace="argilla",
        settings=rg.Settings(
            fields=[rg.TextField("text")], questions=[rg.LabelQuestion("label", ["a", "b"])]
        ),
        client=argilla_stack.owner_client(),
    ).create()
    assert other is not None
    with pytest.raises(ArgillaConnectionError, match="no notus-data review dataset.*question 'verdict'"):
        push(flagged, level="completion", dataset="not-review")


def test_pull_pages_through_the_records(argilla_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    flagged = tmp_path / "flagged.parquet"
    flag(write_parquet(tmp_path / "uf.parquet", loop_rows()), flagged)
    push(flagged, level="completion", dataset="paging")
    annotator = argilla_stack.create_annotator("pager")
    records = sorted(records_by_id(argilla_stack.owner_client(), "paging").values(), key=lambda r: r.id)
    assert len(records) == 5
    for i, record in enumerate(records):
        answer(annotator, record, verdict="confirm" if i % 2 else "discard")
    whole = pull(tmp_path / "one-page.parquet", dataset="paging")
    paged = pull(tmp_path / "paged.parquet", dataset="paging", page_size=2)  # three pages: 2, 2, 1
    assert whole.rows_out == paged.rows_out == 5
    assert (tmp_path / "paged.parquet").read_bytes() == (tmp_path / "one-page.parquet").read_bytes()
    exact = pull(tmp_path / "exact.parquet", dataset="paging", page_size=5)  # a full page, then an empty one
    assert exact.rows_out == 5


def test_a_failing_later_page_gives_one_line_without_the_key(argilla_stack, monkeypatch, tmp_path):
    """The second page fails inside the HTTP stack with an error that quotes the request's headers (the API key
    among them); the error the user sees names the page and never holds the key."""
    import httpx

    import notus_data.review.reading as pull_module  # where pull connects

    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    flagged = tmp_path / "flagged.parquet"
    flag(write_parquet(tmp_path / "uf.parquet", loop_rows()), flagged)
    push(flagged, level="completion", dataset="failing-page")

    class FailLaterPages(httpx.BaseTransport):
        def __init__(self, inner):
            self.inner = inner

        def handle_request(self, request):
            if request.url.path.endswith("/records") and request.url.params.get("offset", "0") != "0":
                raise httpx.ReadError(
                    f"connection reset by peer; request headers: {dict(request.headers)}", request=request
                )
            return self.inner.handle_request(request)

    real_connect = pull_module.connect

    def connect_with_a_flaky_network(options):
        client = real_connect(options)
        client.http_client._transport = FailLaterPages(client.http_client._transport)
        return client

    monkeypatch.setattr(pull_module, "connect", connect_with_a_flaky_network)
    with pytest.raises(ArgillaConnectionError) as info:
        pull(tmp_path / "d.parquet", dataset="failing-page", page_size=2)
    message = str(info.value)
    assert argilla_stack.api_key not in message and "***" in message
    assert message.startswith("reading the dataset's records 2-3 failed: ReadError:")
    assert len(message.splitlines()) == 1
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert not (tmp_path / "d.parquet").exists()
    result = CliRunner().invoke(review_group, ["pull", str(tmp_path / "d.parquet"), "--dataset", "failing-page",
                                               "--page-size", "2"])  # fmt: skip
    assert result.exit_code == 1 and argilla_stack.api_key not in result.output
