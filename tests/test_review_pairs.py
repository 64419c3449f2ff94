"""Pair review: the blind A/B order, the decision rule and agreement, apply (no server), then the whole loop
against a real local Argilla server (``argilla_stack`` fixture): push pairs, answers by two annotator users
(submitted, draft, Argilla-discarded), pull, apply: kept / swapped / dropped pairs reach the data.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from notus_data.cli.review import review_group
from notus_data.errors import OptionError, SchemaError
from notus_data.io import report_path
from notus_data.review.pairs import PairPushOptions, a_is_chosen, pair_record_ids, push_pairs, render_prompt
from notus_data.review.pairs_apply import apply_pairs
from notus_data.review.pairs_pull import PairAnswer, agreement, resolve_pair
from notus_data.schema import sha256_hex

pytest_plugins = ["argilla_stack"]
pytestmark = pytest.mark.filterwarnings("ignore:Support for class-based `config`:DeprecationWarning")


def notus_pairs(n: int = 6) -> pa.Table:
    return pa.table(
        {
            "source": ["s"] * n,
            "instruction": [f"question {i}?" for i in range(n)],
            "chosen_response": [f"good answer {i}" for i in range(n)],
            "rejected_response": [f"bad answer {i}" for i in range(n)],
            "chosen_avg_rating": [4.0 + i / 10 for i in range(n)],
            "rejected_avg_rating": [2.0 + i / 10 for i in range(n)],
            "chosen_model": ["big"] * n,
            "rejected_model": ["small"] * n,
            "chosen_score": [9.0] * n,
            "rejected_score": [3.0] * n,
            "prompt_id": [sha256_hex(pa.array([f"question {i}?"]))[0].as_py() for i in range(n)],
        }
    )


def decision_as_pulled(table: pa.Table, row: int, better: str, seed: int = 42) -> dict:
    """The decision row pull writes when the reviewers answered ``better`` ('chosen', 'rejected', 'tie',
    'unusable') for pair ``row``: A/B as push showed them."""
    pid = table.column("prompt_id")[row].as_py()
    chosen, rejected = (
        table.column("chosen_response")[row].as_py(),
        table.column("rejected_response")[row].as_py(),
    )
    on_a = bool(a_is_chosen(pa.array([pid]), seed)[0])
    a, b = (chosen, rejected) if on_a else (rejected, chosen)
    side = {"chosen": "A" if on_a else "B", "rejected": "B" if on_a else "A"}.get(better, better)
    rid = pair_record_ids(pa.array([pid]), pa.array([chosen]), pa.array([rejected]))[0].as_py()
    sha = sha256_hex(pa.array([a, b])).to_pylist()
    return {"record_id": rid, "prompt_id": pid, "a_sha256": sha[0], "b_sha256": sha[1], "decision": side}


def test_ab_order_is_drawn_from_seed_and_prompt_id_alone():
    ids = sha256_hex(pa.array([f"p{i}" for i in range(2000)]))
    order = a_is_chosen(ids, 42)
    assert 0.45 < order.mean() < 0.55  # the position gives nothing away
    assert np.array_equal(a_is_chosen(ids[::-1], 42), order[::-1])  # row order does not matter
    assert np.array_equal(a_is_chosen(ids.slice(100, 50), 42), order[100:150])  # nor the batch
    assert not np.array_equal(a_is_chosen(ids, 7), order)
    with pytest.raises(OptionError, match="seed"):
        PairPushOptions(seed=-1)
    with pytest.raises(OptionError, match="batch_size"):
        PairPushOptions(batch_size=0)


def test_prompt_shows_every_turn():
    one = render_prompt([{"role": "user", "content": "hi"}], "hi")
    assert one == "hi"
    many = render_prompt(
        [{"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"},
         {"role": "user", "content": "second"}], "second"
    )  # fmt: skip
    assert many.index("first") < many.index("reply") < many.index("second") and "**assistant**" in many


def ans(user, better, at, status="submitted", note=None):
    return PairAnswer(user, status, better, note, at)


def test_resolve_pair_says_how_it_was_resolved():
    assert resolve_pair([ans("x", "A", "1")])["resolved_by"] == "single"
    assert resolve_pair([ans("x", "A", "1"), ans("y", "A", "2")])["resolved_by"] == "unanimous"
    d = resolve_pair([ans("x", "B", "1"), ans("y", "A", "2"), ans("z", "B", "3", note=" why ")])
    assert (d["decision"], d["resolved_by"], d["n_agree"], d["notes"]) == ("B", "majority", 2, ["z: why"])
    d = resolve_pair([ans("x", "tie", "2"), ans("y", "A", "1")])
    assert (d["decision"], d["resolved_by"]) == ("tie", "most_recent")
    # drafts, Argilla discards and answers without a verdict are not used
    unusable = [
        ans("x", "A", "1", status="draft"),
        ans("y", "B", "2", status="discarded"),
        ans("z", None, "3"),
    ]
    assert resolve_pair(unusable) is None
    assert [a.problem() for a in unusable] == ["draft", "discarded_with_verdict", "no_verdict"]
    assert ans("y", None, "2", status="discarded").problem() == "discarded"


def test_agreement_share_and_kappa():
    perfect = [[ans("x", v, "1"), ans("y", v, "2")] for v in ["A", "B", "tie", "A"]]
    assert agreement(perfect) == {
        "records_with_2_or_more": 4, "all_agree": 4, "agree_share": 1.0, "cohen_kappa": 1.0
    }  # fmt: skip
    three = [[ans("x", "A", "1"), ans("y", "A", "2"), ans("z", "B", "3")], [ans("x", "A", "1")]]
    assert agreement(three) == {
        "records_with_2_or_more": 1, "all_agree": 0, "agree_share": 0.0, "cohen_kappa": None
    }  # fmt: skip


def write_decisions(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_apply_keeps_swaps_and_drops_in_the_input_format(tmp_path):
    table = notus_pairs(6)
    pq.write_table(table, tmp_path / "pairs.parquet")
    stale = decision_as_pulled(table, 4, "chosen") | {"a_sha256": "0" * 64}  # reviewed another text
    gone = decision_as_pulled(table, 0, "chosen") | {"record_id": "nope-0123456789abcdef"}
    rows = [decision_as_pulled(table, 0, "chosen"), decision_as_pulled(table, 1, "rejected"),
            decision_as_pulled(table, 2, "tie"), decision_as_pulled(table, 3, "unusable"), stale, gone]  # fmt: skip
    decisions = write_decisions(tmp_path / "d.parquet", rows)
    out = tmp_path / "reviewed.parquet"
    result = CliRunner().invoke(review_group, ["pairs", "apply", str(tmp_path / "pairs.parquet"), str(out),
                                               "--decisions", str(decisions), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "4 pairs written" in result.output and "1 kept, 1 swapped, 2 dropped, 1 not applied" in result.output
    )
    got = pq.read_table(out)
    assert got.schema == table.schema  # the input's format
    assert got.column("instruction").to_pylist() == [
        "question 0?",
        "question 1?",
        "question 4?",
        "question 5?",
    ]
    swapped = got.slice(1, 1).to_pylist()[0]
    assert swapped["chosen_response"] == "bad answer 1" and swapped["rejected_response"] == "good answer 1"
    assert (swapped["chosen_avg_rating"], swapped["rejected_avg_rating"]) == (2.1, 4.1)
    assert (swapped["chosen_model"], swapped["chosen_score"]) == ("small", 3.0)
    assert got.slice(0, 1).to_pylist()[0] == table.slice(0, 1).to_pylist()[0]
    assert (
        got.slice(2, 2).to_pylist() == table.slice(4, 2).to_pylist()
    )  # text_differs and unreviewed: unchanged

    report = json.loads(report_path(out).read_text())
    assert (report["rows_in"], report["rows_out"]) == (6, 4)
    assert report["dropped"] == {"review_tie": 1, "review_unusable": 1}
    assert report["steps"]["pair_decisions"] == {
        "decisions": 6, "kept": 1, "swapped": 1, "dropped": 2, "text_differs": 1, "unmatched": 1, "not_reviewed": 1
    }  # fmt: skip
    changes = [json.loads(line) for line in (tmp_path / "reviewed.changes.jsonl").read_text().splitlines()]
    assert [(c["row_index"], c["action"], c["status"], c["reason"]) for c in changes] == [
        (0, "kept", "applied", None), (1, "swapped", "applied", None), (2, "dropped", "applied", "review_tie"),
        (3, "dropped", "applied", "review_unusable"), (4, "unchanged", "text_differs", None),
        (None, "unchanged", "unmatched", None),
    ]  # fmt: skip


def test_apply_swaps_h4_messages_and_same_output_for_any_batch_size(tmp_path):
    flat = notus_pairs(5)

    def conv(prompts, texts):
        return [
            [{"content": p, "role": "user"}, {"content": t, "role": "assistant"}]
            for p, t in zip(prompts, texts, strict=True)
        ]

    prompts = flat.column("instruction").to_pylist()
    chosen = conv(prompts, flat.column("chosen_response").to_pylist())
    h4 = pa.table({"prompt": prompts, "prompt_id": flat.column("prompt_id"), "chosen": chosen,
                   "rejected": conv(prompts, flat.column("rejected_response").to_pylist()), "messages": chosen,
                   "score_chosen": [8.0] * 5, "score_rejected": [2.0] * 5})  # fmt: skip
    pq.write_table(h4, tmp_path / "h4.parquet")
    decisions = write_decisions(
        tmp_path / "d.parquet", [decision_as_pulled(flat, i, "rejected") for i in (1, 3)]
    )
    outputs = []
    for size in (1, 2, 100):
        out = tmp_path / f"r{size}.parquet"
        apply_pairs(tmp_path / "h4.parquet", out, decisions=decisions, batch_size=size)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    got = pq.read_table(tmp_path / "r1.parquet").to_pylist()
    assert got[1]["chosen"][-1]["content"] == "bad answer 1" and got[1]["messages"] == got[1]["chosen"]
    assert got[1]["score_chosen"] == 2.0 and got[0]["chosen"][-1]["content"] == "good answer 0"


def test_bad_pair_decisions_name_the_row_and_field(tmp_path):
    pq.write_table(notus_pairs(2), tmp_path / "pairs.parquet")
    row = decision_as_pulled(notus_pairs(2), 0, "chosen") | {"decision": "maybe"}
    with pytest.raises(SchemaError, match=r"row 0, field 'decision': 'maybe'"):
        apply_pairs(
            tmp_path / "pairs.parquet",
            tmp_path / "o.parquet",
            decisions=write_decisions(tmp_path / "d.parquet", [row]),
        )
    pq.write_table(pa.table({"record_id": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(SchemaError, match="review pairs pull"):
        apply_pairs(tmp_path / "pairs.parquet", tmp_path / "o.parquet", decisions=tmp_path / "bad.parquet")


# ------------------------------------------------------------------------------------------------ real server


def answer(client, record_server_id, status="submitted", **values):
    """Answer a record as the client's user, as the web UI does (POST /api/v1/records/{id}/responses)."""
    body = {"values": {k: {"value": v} for k, v in values.items()}, "status": status}
    client.http_client.post(f"/api/v1/records/{record_server_id}/responses", json=body).raise_for_status()


def test_pair_review_loop_end_to_end(argilla_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    table = notus_pairs(6)
    pairs_file = tmp_path / "pairs.parquet"
    pq.write_table(table, pairs_file)
    ann1 = argilla_stack.create_annotator("pair-reviewer-one")
    ann2 = argilla_stack.create_annotator("pair-reviewer-two")

    first = push_pairs(pairs_file, dataset="pairs-loop", batch_size=4)
    assert (first.rows_in, first.rows_out, first.info["dataset_created"]) == (6, 6, True)
    assert any("(min_submitted 1)" in w for w in first.info["warnings"])  # two annotators, N = 1
    result = CliRunner().invoke(
        review_group, ["pairs", "push", str(pairs_file), "--dataset", "pairs-loop", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "0 pair records added to 'pairs-loop'" in result.output and "(6 already there)" in result.output
    again = push_pairs(pairs_file, dataset="pairs-loop", min_submitted=2)
    assert any("exists with min_submitted 1" in w for w in again.info["warnings"])

    ds = argilla_stack.owner_client().datasets(name="pairs-loop", workspace="argilla")
    records = {r.id: r for r in ds.records(with_responses=False)}
    assert len(records) == 6
    by_row = []
    for i in range(6):
        expected = decision_as_pulled(table, i, "chosen")
        record = records[expected["record_id"]]
        on_a = expected["decision"] == "A"
        chosen, rejected = f"good answer {i}", f"bad answer {i}"
        assert record.fields["prompt"] == f"question {i}?"
        assert (record.fields["response_a"], record.fields["response_b"]) == (
            (chosen, rejected) if on_a else (rejected, chosen)
        )
        shown = json.dumps({**record.fields, **record.metadata})
        assert "big" not in shown and "9.0" not in shown and "chosen" not in shown  # nothing tells which
        by_row.append((record._server_id, {"chosen": "A" if on_a else "B", "rejected": "B" if on_a else "A"}))

    # row 0: both say chosen -> kept; row 1: both say rejected -> swapped; row 2: tie; row 3: unusable;
    # row 4: 1-1, the newer (ann1: rejected) wins -> swapped; row 5: a draft and an Argilla discard only
    answer(ann1, by_row[0][0], better=by_row[0][1]["chosen"], note="clearly")
    answer(ann2, by_row[0][0], better=by_row[0][1]["chosen"])
    answer(ann1, by_row[1][0], better=by_row[1][1]["rejected"])
    answer(ann2, by_row[1][0], better=by_row[1][1]["rejected"])
    answer(ann1, by_row[2][0], better="tie")
    answer(ann2, by_row[3][0], better="unusable", note="both wrong")
    answer(ann2, by_row[4][0], better=by_row[4][1]["chosen"])
    answer(ann1, by_row[4][0], better=by_row[4][1]["rejected"])
    answer(ann1, by_row[5][0], status="draft", better="A")
    answer(ann2, by_row[5][0], status="discarded", better="B")

    decisions = tmp_path / "pair-decisions.parquet"
    result = CliRunner().invoke(
        review_group, ["pairs", "pull", str(decisions), "--dataset", "pairs-loop", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "5 pair decisions written" in result.output and "2 answers not usable" in result.output
    report = json.loads(report_path(decisions).read_text())
    assert report["dropped"] == {"no_usable_answer": 1}
    assert report["steps"]["pull"]["resolved_by"] == {"unanimous": 2, "single": 2, "most_recent": 1}
    assert report["steps"]["agreement"]["records_with_2_or_more"] == 3
    assert report["steps"]["agreement"]["agree_share"] == round(2 / 3, 4)
    unusable = sorted((u["user"], u["why"]) for u in report["info"]["unusable_answers"])
    assert unusable == [("pair-reviewer-one", "draft"), ("pair-reviewer-two", "discarded_with_verdict")]
    assert argilla_stack.api_key not in report_path(decisions).read_text()
    pulled = {r["record_id"]: r for r in pq.read_table(decisions).to_pylist()}
    row0 = pulled[decision_as_pulled(table, 0, "chosen")["record_id"]]
    assert row0["annotators"] == ["pair-reviewer-one", "pair-reviewer-two"]
    assert row0["notes"] == ["pair-reviewer-one: clearly"]

    out = tmp_path / "reviewed.parquet"
    report = apply_pairs(pairs_file, out, decisions=decisions)  # no server needed from here on
    got = pq.read_table(out).to_pylist()
    assert [r["instruction"] for r in got] == ["question 0?", "question 1?", "question 4?", "question 5?"]
    assert [r["chosen_response"] for r in got] == [
        "good answer 0",
        "bad answer 1",
        "bad answer 4",
        "good answer 5",
    ]
    assert report.dropped == {"review_tie": 1, "review_unusable": 1}
    assert report.steps["pair_decisions"]["swapped"] == 2 and report.steps["pair_decisions"]["kept"] == 1


def test_a_multi_turn_pair_shows_every_prompt_turn(argilla_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_stack.api_url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_stack.api_key)
    turns = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7."},
             {"role": "user", "content": "A bigger one?"}]  # fmt: skip
    trl = pa.table(
        {"prompt": [turns, [turns[0]]], "chosen": [[{"role": "assistant", "content": "11."}]] * 2,
         "rejected": [[{"role": "assistant", "content": "9."}], [{"role": "assistant", "content": None}]]}
    )  # fmt: skip
    pq.write_table(trl, tmp_path / "trl.parquet")
    report = push_pairs(tmp_path / "trl.parquet", dataset="pairs-turns")
    assert (report.rows_in, report.rows_out, dict(report.dropped)) == (
        2,
        1,
        {"null_text": 1},
    )  # counted, not lost
    ds = argilla_stack.owner_client().datasets(name="pairs-turns", workspace="argilla")
    (record,) = list(ds.records(with_responses=False))
    prompt = record.fields["prompt"]
    assert [prompt.index(t["content"]) for t in turns] == sorted(prompt.index(t["content"]) for t in turns)
    assert "**assistant**" in prompt and record.metadata["turns"] == 3
    assert {record.fields["response_a"], record.fields["response_b"]} == {"11.", "9."}
