"""Pull the reviewers' submitted answers back from Argilla into a decisions file (parquet or jsonl).

Either kind of review dataset (prompt-level: a decision per completion of the record that got a verdict;
completion-level: a decision per record). Only answers with status ``submitted`` count; every answer that cannot be
used (a draft, a verdict on a record discarded with Argilla's button, a correction without a score...) is listed
in the report with its record (:mod:`notus_data.review.answers`). One decision per completion that has at least
``min_answers`` usable answers, resolved by this rule (:func:`resolve`):

1. an answer ``correct`` without a corrected score is not usable;
2. the verdict is the one most annotators chose; on a tie, the verdict of the most recent answer among the tied
   ones (``resolved_by``: ``single_answer``, ``unanimous``, ``majority`` or ``most_recent``: what happened);
3. with ``correct``, the corrected score is the one most of the ``correct`` answers gave; on a tie, the most recent
   (``score_resolved_by``, the same words);
4. every non-empty note is kept, oldest first, as ``username: note``.

The report also gives the reviewers' agreement per question (:mod:`notus_data.review.agreement`).

The answers are read with the SDK's HTTP client from ``GET /api/v1/datasets/{id}/records?include=responses``,
because the SDK's record objects drop the answers' ``updated_at`` that rule 2 needs.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from notus_data.errors import OptionError
from notus_data.io import AtomicWriter, guard_outputs, report_path
from notus_data.io.atomic import write_report
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.agreement import agreement
from notus_data.review.answers import Answer, RecordAnswers, read_completion_record, read_prompt_record
from notus_data.review.client import ArgillaConnectionError, ConnectionOptions
from notus_data.review.prompts import dataset_slots
from notus_data.review.push import parse_record_id
from notus_data.review.reading import open_pushed, record_pages, usernames
from notus_data.review.settings import missing_parts

__all__ = ["DECISIONS_SCHEMA", "Answer", "PullOptions", "pull", "resolve"]

DECISIONS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("prompt_id", pa.string()),
        ("completion_index", pa.int64()),
        ("response_sha256", pa.string()),
        ("source", pa.string()),
        ("model", pa.string()),
        ("overall_score", pa.float64()),
        ("decision", pa.string()),
        ("corrected_score", pa.float64()),
        ("n_answers", pa.int64()),
        ("n_agree", pa.int64()),
        ("resolved_by", pa.string()),
        ("score_resolved_by", pa.string()),
        ("annotators", pa.list_(pa.string())),
        ("notes", pa.list_(pa.string())),
        ("last_answer_at", pa.string()),
        ("human_rank", pa.float64()),
    ]
)
PAGE = 1000


@dataclass
class PullOptions:
    """How answers become decisions. Every field is a ``notus-data review pull`` option of the same name."""

    min_answers: int = field(
        default=1, metadata={"help": "least usable submitted answers a record needs to get a decision"}
    )
    page_size: int = field(
        default=PAGE, metadata={"help": f"records read per request to the server (1-{PAGE})"}
    )

    def __post_init__(self) -> None:
        if self.min_answers < 1:
            raise OptionError(f"min_answers: {self.min_answers} must be >= 1")
        if not 1 <= self.page_size <= PAGE:
            raise OptionError(f"page_size: {self.page_size} must be in 1..{PAGE}")


def _vote(values: list[Any], times: list[str]) -> tuple[Any, int, str]:
    """(winner, its votes, how): the most frequent value; on a tie the most recent of the tied values."""
    counts = Counter(values)
    best = max(counts.values())
    tied = {v for v, n in counts.items() if n == best}
    if len(values) == 1:
        return values[0], 1, "single_answer"
    if len(counts) == 1:
        return values[0], best, "unanimous"
    if len(tied) == 1:
        return next(iter(tied)), best, "majority"
    latest = max((t, i) for i, (v, t) in enumerate(zip(values, times, strict=True)) if v in tied)
    return values[latest[1]], best, "most_recent"


def resolve(answers: list[Answer]) -> dict[str, Any] | None:
    """The decision of one record from its usable answers (None when there are none); see the module doc.

    >>> a = [Answer("ann1", "discard", None, None, "2024-01-02"), Answer("ann2", "confirm", None, "ok", "2024-01-01")]
    >>> d = resolve(a)
    >>> d["decision"], d["resolved_by"], d["notes"]
    ('discard', 'most_recent', ['ann2: ok'])
    """
    usable = sorted((a for a in answers if a.usable), key=lambda a: (a.updated_at, a.user))
    if not usable:
        return None
    verdict, n_agree, how = _vote([a.verdict for a in usable], [a.updated_at for a in usable])
    corrected = score_how = None
    if verdict == "correct":
        scored = [a for a in usable if a.verdict == "correct"]
        corrected, _, score_how = _vote([a.corrected_score for a in scored], [a.updated_at for a in scored])
    return {
        "decision": verdict,
        "corrected_score": corrected,
        "n_answers": len(usable),
        "n_agree": n_agree,
        "resolved_by": how,
        "score_resolved_by": score_how,
        "annotators": sorted(a.user for a in usable),
        "notes": [f"{a.user}: {a.note.strip()}" for a in usable if a.note and a.note.strip()],
        "last_answer_at": usable[-1].updated_at,
    }


@dataclass
class Collected:
    """What pull gathers across records: answers, unusable answers, and the values for agreement."""

    records: int = 0
    answers: int = 0
    unusable: list = field(default_factory=list)
    verdicts: dict = field(default_factory=dict)  # (record, completion) -> {user: verdict}
    scores: dict = field(default_factory=dict)  # (record, completion) -> {user: corrected score}
    rankings: dict = field(default_factory=dict)  # record -> {user: ranking}

    def add(self, read: RecordAnswers) -> None:
        self.unusable.extend(read.unusable)
        for item in read.items:
            self.answers += len(item.answers)
            key = (item.record_id, item.completion_index)
            usable = [a for a in item.answers if a.usable]
            if usable:
                self.verdicts[key] = {a.user: a.verdict for a in usable}
            scored = {a.user: a.corrected_score for a in usable if a.verdict == "correct"}
            if scored:
                self.scores[key] = scored
        if read.rankings:
            record = read.items[0].record_id
            self.rankings[record] = {u: tuple(sorted(r.items())) for u, r in read.rankings.items()}

    def agreement(self) -> dict[str, Any]:
        """Per question: items answered by two or more, share agreeing, Krippendorff's alpha, Cohen's kappa."""
        out = {
            "verdict": agreement(self.verdicts),
            "corrected_score": agreement(self.scores, metric="interval"),
        }
        if self.rankings:
            out["ranking"] = agreement(self.rankings)
        return out


def mean_ranks(rankings: dict[str, dict[int, int]]) -> dict[int, float]:
    """completion index -> the mean of the reviewers' ranks (1 = best).

    >>> mean_ranks({"a": {0: 1, 1: 2}, "b": {0: 2, 1: 1}, "c": {0: 1, 1: 2}})
    {0: 1.3333333333333333, 1: 1.6666666666666667}
    """
    out: dict[int, list[int]] = {}
    for ranking in rankings.values():
        for index, rank in ranking.items():
            out.setdefault(index, []).append(rank)
    return {index: sum(r) / len(r) for index, r in sorted(out.items())}


def rank_only(rankings: dict[str, dict[int, int]]) -> dict[str, Any]:
    """The decision of a completion that was ranked but got no verdict: ``rank`` (the score stays)."""
    users = sorted(rankings)
    how = "single_answer" if len(users) == 1 else "mean_rank"
    return {
        "decision": "rank",
        "corrected_score": None,
        "n_answers": len(users),
        "n_agree": len(users),
        "resolved_by": how,
        "score_resolved_by": None,
        "annotators": users,
        "notes": [],
        "last_answer_at": None,
    }


def pull(
    output: str | os.PathLike,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    workspace: str = "argilla",
    dataset: str = "notus-data-review",
    timeout: float = 60.0,
    progress: bool = False,
    **options: Any,
) -> Report:
    """Read the submitted answers of the review dataset and write one decision per reviewed record to ``output``.

    ``output`` is .parquet or .jsonl (:data:`DECISIONS_SCHEMA`), sorted by record id, written atomically; the
    report (records read, decisions by verdict and by rule, records without a usable answer) goes beside it.
    """
    opts = PullOptions(**options)
    guard_outputs("review pull", [output, report_path(output)])
    connection = ConnectionOptions(
        api_url=api_url, api_key=api_key, workspace=workspace, dataset=dataset, timeout=timeout
    )
    started = time.perf_counter()
    client, ds, api_key = open_pushed(
        connection, "push flagged completions first (notus-data review push FLAGGED)"
    )
    prompt_level = dataset_slots(ds) > 0
    missing = [] if prompt_level else missing_parts(ds)
    if missing:
        raise ArgillaConnectionError(
            f"dataset '{connection.dataset}' is no notus-data review dataset (it lacks {', '.join(missing)})"
        )
    names = usernames(client)
    rows: list[dict[str, Any]] = []
    sources: list[str] = []
    reasons: list[str | None] = []
    collected = Collected()
    with progress_bar("pull", None, progress) as bar:
        for items in record_pages(client, ds, api_key, opts.page_size):
            for record in items:
                collected.records += 1
                rid = str(record.get("external_id") or record["id"])
                if prompt_level:
                    read = read_prompt_record(record, names)
                else:
                    parsed = parse_record_id(rid)
                    if parsed is None:
                        sources.append(str((record.get("metadata") or {}).get("source", "unknown")))
                        reasons.append("not_a_review_record")
                        continue
                    read = read_completion_record(record, names, parsed)
                collected.add(read)
                ranks = mean_ranks(read.rankings)
                for item in read.items:
                    decision = resolve(item.answers)
                    rank = ranks.get(item.completion_index)
                    if decision is None and rank is not None and len(read.rankings) >= opts.min_answers:
                        decision = rank_only(read.rankings)
                    sources.append(str(item.metadata.get("source") or "unknown"))
                    if not read.submitted:
                        reasons.append("no_submitted_answer")
                    elif not item.answers and decision is None:
                        reasons.append("no_verdict")
                    elif decision is None:
                        reasons.append("no_usable_answer")
                    elif decision["n_answers"] < opts.min_answers:
                        reasons.append("below_min_answers")
                    else:
                        reasons.append(None)
                        rows.append(
                            {
                                "record_id": f"{item.prompt_id}-{item.completion_index}",
                                "prompt_id": item.prompt_id,
                                "completion_index": item.completion_index,
                                "response_sha256": item.response_sha256,
                                **item.metadata,
                                **decision,
                                "human_rank": rank,
                            }
                        )
            bar.advance(len(items))
    rows.sort(key=lambda r: r["record_id"])
    decisions = pa.Table.from_pylist(rows, schema=DECISIONS_SCHEMA)
    with AtomicWriter(output, DECISIONS_SCHEMA, command="review pull") as writer:
        writer.write(decisions)

    report = Report("review pull")
    report.add_outcomes(
        pa.table(
            {
                "source": pa.array(sources, pa.string()),
                "reason": pa.array(reasons, pa.string()),
                "n_out": pa.array([int(r is None) for r in reasons], pa.int64()),
            }
        )
    )
    report.check()
    report.add_step(
        "pull",
        {
            "decisions": decisions.num_rows,
            "records": collected.records,
            "answers": collected.answers,
            "unusable_answers": dict(Counter(u.problem for u in collected.unusable)),
            "by_decision": dict(Counter(r["decision"] for r in rows)),
            "resolved_by": dict(Counter(r["resolved_by"] for r in rows)),
            "score_resolved_by": dict(
                Counter(r["score_resolved_by"] for r in rows if r["score_resolved_by"])
            ),
        },
    )
    report.info["agreement"] = collected.agreement()
    report.info["unusable_answers"] = [u.as_dict() for u in collected.unusable]
    report.info.update(
        {
            "api_url": connection.resolved_url(),
            "workspace": connection.workspace,
            "dataset": connection.dataset,
            "level": "prompt" if prompt_level else "completion",
            "rule": "majority verdict, ties to the most recent answer; correct needs a corrected score",
            "options": asdict(opts),
            "output": str(output),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    write_report(report, report_path(output))
    return report
