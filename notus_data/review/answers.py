"""Read the answers of one Argilla record (the JSON of ``GET /api/v1/datasets/{id}/records?include=responses``).

A record gives one *item* per completion it reviews (one for a completion-level record; one per completion shown
for a prompt-level record, from its ``review_keys``), each with the submitted answers to its verdict. Every answer
that cannot be used is listed (:class:`Unusable`), never folded into a count:

- ``draft``: saved, not submitted;
- ``discarded_with_verdict``: the record was discarded with Argilla's own Discard button but carries a verdict
  (the *exclude* / *discard* verdict is the way to keep a completion out of the pairs);
- ``correct_without_score``: *correct* with no corrected score;
- ``score_ignored``: a corrected score with a verdict other than *correct* (the verdict is used, the score not);
- ``verdict_on_empty_slot``: a verdict for a completion slot the record does not show;
- ``unjudged_flagged``: the reviewer said *done* but left a flagged completion without a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notus_data.review.prompts import TO_DECISION, parse_keys


@dataclass(frozen=True)
class Answer:
    """One annotator's submitted answer to one completion (``verdict`` in the decisions file's words)."""

    user: str
    verdict: str | None
    corrected_score: float | None
    note: str | None
    updated_at: str

    @property
    def usable(self) -> bool:
        return self.verdict in ("confirm", "correct", "discard") and (
            self.verdict != "correct" or self.corrected_score is not None
        )


@dataclass(frozen=True)
class Unusable:
    """An answer pull could not use, with where it is and why."""

    record_id: str
    user: str
    problem: str
    question: str | None = None
    completion_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Item:
    """One reviewed completion of a record and its submitted, verdict-carrying answers."""

    record_id: str
    prompt_id: str
    completion_index: int
    response_sha256: str | None
    flagged: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)


@dataclass
class RecordAnswers:
    items: list[Item]
    unusable: list[Unusable]
    submitted: int  # submitted responses to the record
    #: user -> {completion_index: rank} (1 = best), from the optional ranking question
    rankings: dict[str, dict[int, int]] = field(default_factory=dict)


def _value(values: dict[str, Any], name: str) -> Any:
    return (values.get(name) or {}).get("value")


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


def _ranking(value: Any, slots: dict[int, tuple[int, str | None, bool]]) -> dict[int, int]:
    """completion index -> rank from a ranking answer (``[{"value": "completion_2", "rank": 1}, ...]``)."""
    out = {}
    for position, entry in enumerate(value or [], start=1):
        name = entry.get("value") if isinstance(entry, dict) else entry
        rank = entry.get("rank") if isinstance(entry, dict) else None
        slot = int(str(name).rpartition("_")[2]) if str(name).rpartition("_")[2].isdigit() else None
        if slot in slots:
            out[slots[slot][0]] = int(rank or position)
    return out


def read_prompt_record(record: dict[str, Any], usernames: dict[str, str]) -> RecordAnswers:
    """The items and answers of a prompt-level record (``verdict_i`` / ``score_i`` per completion slot)."""
    metadata = record.get("metadata") or {}
    rid = str(record.get("external_id") or record["id"])
    slots = parse_keys(metadata.get("review_keys"))
    items = {
        slot: Item(rid, rid, index, sha, flagged, {"source": metadata.get("source")})
        for slot, (index, sha, flagged) in slots.items()
    }
    unusable: list[Unusable] = []
    rankings: dict[str, dict[int, int]] = {}
    submitted = 0
    for response in record.get("responses") or []:
        values = response.get("values") or {}
        user_id = str(response.get("user_id"))
        user = usernames.get(user_id, user_id)
        status = response.get("status")
        verdicts = {
            int(name.rpartition("_")[2]): v["value"]
            for name, v in values.items()
            if name.startswith("verdict_") and (v or {}).get("value") is not None
        }
        if status != "submitted":
            if status == "draft" and values:
                unusable.append(Unusable(rid, user, "draft"))
            elif status == "discarded" and verdicts:
                unusable.append(Unusable(rid, user, "discarded_with_verdict"))
            continue
        submitted += 1
        at = str(response.get("updated_at") or response.get("inserted_at") or "")
        note = _value(values, "note")
        for slot, label in sorted(verdicts.items()):
            question = f"verdict_{slot}"
            if slot not in items:
                unusable.append(Unusable(rid, user, "verdict_on_empty_slot", question))
                continue
            score = _score(_value(values, f"score_{slot}"))
            verdict = TO_DECISION.get(label, label)
            index = items[slot].completion_index
            if verdict == "correct" and score is None:
                unusable.append(Unusable(rid, user, "correct_without_score", question, index))
            elif verdict != "correct" and score is not None:
                unusable.append(Unusable(rid, user, "score_ignored", f"score_{slot}", index))
                score = None
            items[slot].answers.append(Answer(user, verdict, score, note, at))
        if _value(values, "checked") == "done":
            for slot, item in items.items():
                if item.flagged and slot not in verdicts:
                    unusable.append(
                        Unusable(rid, user, "unjudged_flagged", f"verdict_{slot}", item.completion_index)
                    )
        ranking = _ranking(_value(values, "ranking"), slots)
        if ranking:
            rankings[user] = ranking
    return RecordAnswers(list(items.values()), unusable, submitted, rankings)


def read_completion_record(
    record: dict[str, Any], usernames: dict[str, str], parsed: tuple[str, int]
) -> RecordAnswers:
    """The one item of a completion-level record (questions ``verdict``, ``corrected_score``, ``note``)."""
    metadata = record.get("metadata") or {}
    rid = str(record.get("external_id") or record["id"])
    item = Item(
        rid,
        parsed[0],
        parsed[1],
        metadata.get("response_sha256"),
        True,
        {k: metadata.get(k) for k in ("source", "model", "overall_score")},
    )
    unusable: list[Unusable] = []
    submitted = 0
    for response in record.get("responses") or []:
        values = response.get("values") or {}
        user_id = str(response.get("user_id"))
        user = usernames.get(user_id, user_id)
        status = response.get("status")
        verdict = _value(values, "verdict")
        if status != "submitted":
            if status == "draft" and values:
                unusable.append(Unusable(rid, user, "draft"))
            elif status == "discarded" and verdict is not None:
                unusable.append(Unusable(rid, user, "discarded_with_verdict"))
            continue
        submitted += 1
        score = _score(_value(values, "corrected_score"))
        if verdict == "correct" and score is None:
            unusable.append(Unusable(rid, user, "correct_without_score", "verdict", parsed[1]))
        at = str(response.get("updated_at") or response.get("inserted_at") or "")
        item.answers.append(Answer(user, verdict, score, _value(values, "note"), at))
    return RecordAnswers([item], unusable, submitted)
