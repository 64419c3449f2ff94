"""Pull the answers of a pair review dataset into a pair-decisions file (parquet or jsonl).

Only **submitted** answers with a ``better`` value count. Every other answer is listed in the report
(``info.unusable_answers``: record id, user, status, why) instead of being folded into a count: a ``draft``, an
answer given with Argilla's own Discard button that carries a verdict (``discarded_with_verdict``; one without a
verdict is a plain skip, ``discarded``), or a submitted answer without a verdict (``no_verdict``).

One decision per record with at least ``min_answers`` usable answers (:func:`resolve_pair`): the answer most
reviewers gave; on a tie between answers, the most recent of the tied ones. ``resolved_by`` says what happened:
``single`` (one answer), ``unanimous``, ``majority`` or ``most_recent``. The report's ``agreement`` section gives,
over records with two or more usable answers, the share where every reviewer gave the same answer, and Cohen's
kappa where exactly two reviewers answered them.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from notus_data.errors import OptionError, check_numbers
from notus_data.io import AtomicWriter, guard_outputs, report_path
from notus_data.io.atomic import write_report
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.client import ArgillaConnectionError, ConnectionOptions
from notus_data.review.pairs import ANSWERS, missing_pair_parts
from notus_data.review.reading import open_pushed, record_pages, usernames

PAIR_DECISIONS_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("prompt_id", pa.string()),
        ("a_sha256", pa.string()),
        ("b_sha256", pa.string()),
        ("source", pa.string()),
        ("decision", pa.string()),  # A | B | tie | unusable
        ("n_answers", pa.int64()),
        ("n_agree", pa.int64()),
        ("resolved_by", pa.string()),
        ("annotators", pa.list_(pa.string())),
        ("notes", pa.list_(pa.string())),
        ("last_answer_at", pa.string()),
    ]
)
PAGE = 1000


@dataclass
class PairPullOptions:
    """How answers become decisions. Every field is a ``notus-data review pairs pull`` option of the same name."""

    min_answers: int = field(default=1, metadata={"help": "least usable submitted answers a pair needs"})
    page_size: int = field(default=PAGE, metadata={"help": f"records read per request (1-{PAGE})"})

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.min_answers < 1:
            raise OptionError(f"min_answers: {self.min_answers} must be >= 1")
        if not 1 <= self.page_size <= PAGE:
            raise OptionError(f"page_size: {self.page_size} must be in 1..{PAGE}")


@dataclass(frozen=True)
class PairAnswer:
    """One reviewer's answer to one pair record."""

    user: str
    status: str
    better: str | None
    note: str | None
    updated_at: str

    def problem(self) -> str | None:
        """Why this answer cannot be used (None when it can)."""
        if self.status == "draft":
            return "draft"
        if self.status == "discarded":
            return "discarded_with_verdict" if self.better else "discarded"
        if self.better not in ANSWERS:
            return "no_verdict"
        return None


def resolve_pair(answers: list[PairAnswer]) -> dict[str, Any] | None:
    """The decision of one pair from its answers (None without a usable one); see the module doc.

    >>> a = [PairAnswer("ann1", "submitted", "A", None, "2024-01-02"),
    ...      PairAnswer("ann2", "submitted", "tie", "same", "2024-01-01")]
    >>> d = resolve_pair(a)
    >>> d["decision"], d["resolved_by"], d["notes"]
    ('A', 'most_recent', ['ann2: same'])
    """
    usable = sorted((a for a in answers if a.problem() is None), key=lambda a: (a.updated_at, a.user))
    if not usable:
        return None
    counts = Counter(a.better for a in usable)
    best = max(counts.values())
    tied = [v for v, n in counts.items() if n == best]
    if len(usable) == 1:
        how = "single"
    elif len(counts) == 1:
        how = "unanimous"
    elif len(tied) == 1:
        how = "majority"
    else:
        how = "most_recent"
    decision = tied[0] if len(tied) == 1 else next(a.better for a in reversed(usable) if a.better in tied)
    return {
        "decision": decision,
        "n_answers": len(usable),
        "n_agree": best,
        "resolved_by": how,
        "annotators": sorted(a.user for a in usable),
        "notes": [f"{a.user}: {a.note.strip()}" for a in usable if a.note and a.note.strip()],
        "last_answer_at": usable[-1].updated_at,
    }


def agreement(answer_sets: list[list[PairAnswer]]) -> dict[str, Any]:
    """Agreement over the records with two or more usable answers: the share where all agree, and Cohen's kappa
    where exactly two reviewers answered those records (else null).

    >>> s = [[PairAnswer("x", "submitted", v, None, "1"), PairAnswer("y", "submitted", w, None, "2")]
    ...      for v, w in [("A", "A"), ("B", "B"), ("A", "B"), ("tie", "tie")]]
    >>> agreement(s)
    {'records_with_2_or_more': 4, 'all_agree': 3, 'agree_share': 0.75, 'cohen_kappa': 0.6364}
    """
    multi = [[a for a in s if a.problem() is None] for s in answer_sets]
    multi = [s for s in multi if len({a.user for a in s}) >= 2]
    agree = sum(len({a.better for a in s}) == 1 for s in multi)
    users = {a.user for s in multi for a in s}
    kappa = None
    if len(users) == 2 and multi:
        first, second = sorted(users)
        pairs = [({a.user: a.better for a in s}[first], {a.user: a.better for a in s}[second]) for s in multi]
        observed = sum(x == y for x, y in pairs) / len(pairs)
        left, right = Counter(x for x, _ in pairs), Counter(y for _, y in pairs)
        expected = sum(left[k] * right[k] for k in ANSWERS) / len(pairs) ** 2
        kappa = 1.0 if expected == 1 else round((observed - expected) / (1 - expected), 4)
    return {
        "records_with_2_or_more": len(multi),
        "all_agree": agree,
        "agree_share": round(agree / len(multi), 4) if multi else None,
        "cohen_kappa": kappa,
    }


def _answers(record: dict[str, Any], usernames: dict[str, str]) -> list[PairAnswer]:
    out = []
    for response in record.get("responses") or []:
        values = response.get("values") or {}
        user = str(response.get("user_id"))
        out.append(
            PairAnswer(
                user=usernames.get(user, user),
                status=str(response.get("status")),
                better=(values.get("better") or {}).get("value"),
                note=(values.get("note") or {}).get("value"),
                updated_at=str(response.get("updated_at") or response.get("inserted_at") or ""),
            )
        )
    return out


def pull_pairs(
    output: str | os.PathLike,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    workspace: str = "argilla",
    dataset: str = "notus-data-pairs",
    timeout: float = 60.0,
    progress: bool = False,
    **options: Any,
) -> Report:
    """Write one decision per reviewed pair to ``output`` (:data:`PAIR_DECISIONS_SCHEMA`, sorted by record id);
    the report (records by outcome, decisions by answer and by rule, agreement, unusable answers) beside it."""
    opts = PairPullOptions(**options)
    guard_outputs("review pairs pull", [output, report_path(output)])
    connection = ConnectionOptions(
        api_url=api_url, api_key=api_key, workspace=workspace, dataset=dataset, timeout=timeout
    )
    started = time.perf_counter()
    client, ds, api_key = open_pushed(connection, "push pairs first (notus-data review pairs push PAIRS)")
    missing = missing_pair_parts(ds)
    if missing:
        raise ArgillaConnectionError(
            f"dataset '{connection.dataset}' is no pair review dataset (it lacks {', '.join(missing)})"
        )
    names = usernames(client)
    rows, sources, reasons, unusable, answer_sets = [], [], [], [], []
    with progress_bar("pull", None, progress) as bar:
        for items in record_pages(client, ds, api_key, opts.page_size):
            for record in items:
                metadata = record.get("metadata") or {}
                rid = record.get("external_id") or str(record["id"])
                answers = _answers(record, names)
                answer_sets.append(answers)
                for a in answers:
                    why = a.problem()
                    if why is not None:
                        unusable.append({"record_id": rid, "user": a.user, "status": a.status, "why": why,
                                         "better": a.better, "note": a.note})  # fmt: skip
                decision = resolve_pair(answers)
                sources.append(str(metadata.get("source", "unknown")))
                if not answers:
                    reasons.append("no_answer")
                elif decision is None:
                    reasons.append("no_usable_answer")
                elif decision["n_answers"] < opts.min_answers:
                    reasons.append("below_min_answers")
                else:
                    reasons.append(None)
                    rows.append({"record_id": rid, "prompt_id": rid.rpartition("-")[0],
                                 "a_sha256": metadata.get("a_sha256"), "b_sha256": metadata.get("b_sha256"),
                                 "source": metadata.get("source"), **decision})  # fmt: skip
            bar.advance(len(items))
    rows.sort(key=lambda r: r["record_id"])
    decisions = pa.Table.from_pylist(rows, schema=PAIR_DECISIONS_SCHEMA)
    with AtomicWriter(output, PAIR_DECISIONS_SCHEMA, command="review pairs pull") as writer:
        writer.write(decisions)
    report = Report("review pairs pull")
    report.add_outcomes(
        pa.table({"source": pa.array(sources, pa.string()), "reason": pa.array(reasons, pa.string()),
                  "n_out": pa.array([int(r is None) for r in reasons], pa.int64())})
    )  # fmt: skip
    report.check()
    report.add_step(
        "pull",
        {"records": len(reasons), "decisions": decisions.num_rows, "answers": sum(map(len, answer_sets)),
         "unusable_answers": dict(Counter(u["why"] for u in unusable)),
         "by_decision": dict(Counter(r["decision"] for r in rows)),
         "resolved_by": dict(Counter(r["resolved_by"] for r in rows))},
    )  # fmt: skip
    report.add_step("agreement", agreement(answer_sets))
    report.info.update(
        {"api_url": connection.resolved_url(), "workspace": connection.workspace, "dataset": connection.dataset,
         "rule": "the answer most reviewers gave; a tie between answers goes to the most recent of them",
         "unusable_answers": unusable, "options": asdict(opts), "output": str(output),
         "seconds": round(time.perf_counter() - started, 3)}
    )  # fmt: skip
    write_report(report, report_path(output))
    return report
