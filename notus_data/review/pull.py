"""Pull the reviewers' submitted answers back from Argilla into a decisions file (parquet or jsonl).

Only answers with status ``submitted`` count (drafts and discarded answers do not). One decision per record that
has at least ``min_answers`` usable answers, resolved by this rule (:func:`resolve`):

1. an answer ``correct`` without a corrected score is not usable (counted as ``invalid_answers``);
2. the verdict is the one most annotators chose; on a tie, the verdict of the most recent answer among the tied
   ones (``resolved_by``: ``unanimous``, ``majority`` or ``most_recent``);
3. with ``correct``, the corrected score is the one most of the ``correct`` answers gave; on a tie, the most recent;
4. every non-empty note is kept, oldest first, as ``username: note``.

The answers are read with the SDK's HTTP client from ``GET /api/v1/datasets/{id}/records?include=responses``,
because the SDK's record objects drop the answers' ``updated_at`` that rule 2 needs.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from notus_data.errors import OptionError
from notus_data.io import AtomicWriter, guard_outputs, report_path
from notus_data.io.atomic import write_report
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.client import ArgillaConnectionError, ConnectionOptions, connect, guarded
from notus_data.review.push import parse_record_id
from notus_data.review.settings import VERDICTS, missing_parts

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
        ("annotators", pa.list_(pa.string())),
        ("notes", pa.list_(pa.string())),
        ("last_answer_at", pa.string()),
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


@dataclass(frozen=True)
class Answer:
    """One annotator's submitted answer to one record."""

    user: str
    verdict: str | None
    corrected_score: float | None
    note: str | None
    updated_at: str

    @property
    def usable(self) -> bool:
        return self.verdict in VERDICTS and (self.verdict != "correct" or self.corrected_score is not None)


def _vote(values: list[Any], times: list[str]) -> tuple[Any, int, str]:
    """(winner, its votes, how): the most frequent value; on a tie the most recent of the tied values."""
    counts = Counter(values)
    best = max(counts.values())
    tied = {v for v, n in counts.items() if n == best}
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
    corrected = None
    if verdict == "correct":
        scored = [a for a in usable if a.verdict == "correct"]
        corrected, _, _ = _vote([a.corrected_score for a in scored], [a.updated_at for a in scored])
    return {
        "decision": verdict,
        "corrected_score": corrected,
        "n_answers": len(usable),
        "n_agree": n_agree,
        "resolved_by": how,
        "annotators": sorted(a.user for a in usable),
        "notes": [f"{a.user}: {a.note.strip()}" for a in usable if a.note and a.note.strip()],
        "last_answer_at": usable[-1].updated_at,
    }


def _answers(record: dict[str, Any], usernames: dict[str, str]) -> list[Answer]:
    out = []
    for response in record.get("responses") or []:
        if response.get("status") != "submitted":
            continue
        values = response.get("values") or {}

        def value(name: str, values: dict[str, Any] = values) -> Any:
            return (values.get(name) or {}).get("value")

        score = value("corrected_score")
        user = str(response.get("user_id"))
        out.append(
            Answer(
                user=usernames.get(user, user),
                verdict=value("verdict"),
                corrected_score=None if score is None else float(score),
                note=value("note"),
                updated_at=str(response.get("updated_at") or response.get("inserted_at") or ""),
            )
        )
    return out


def _usernames(client: Any) -> dict[str, str]:
    """user id -> username (an admin may not list users: then ids are used)."""
    try:
        return {str(u.id): u.username for u in client.users}
    except Exception:
        return {}


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
    client = connect(connection)
    api_key = connection.resolved_key()  # only ever used to scrub error messages

    def open_dataset() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return client.datasets(name=connection.dataset, workspace=connection.workspace)

    ds = guarded(f"opening dataset '{connection.dataset}'", api_key, open_dataset)
    if ds is None:
        raise ArgillaConnectionError(
            f"no dataset '{connection.dataset}' in workspace '{connection.workspace}' on {connection.resolved_url()}: "
            "push flagged completions first (notus-data review push FLAGGED)"
        )
    missing = missing_parts(ds)
    if missing:
        raise ArgillaConnectionError(
            f"dataset '{connection.dataset}' is no notus-data review dataset (it lacks {', '.join(missing)})"
        )
    usernames = _usernames(client)
    rows: list[dict[str, Any]] = []
    sources: list[str] = []
    reasons: list[str | None] = []
    counts: Counter = Counter()
    with progress_bar("pull", None, progress) as bar:
        offset = 0
        while True:

            def read_page(offset: int = offset) -> list[dict[str, Any]]:
                page = client.http_client.get(
                    f"/api/v1/datasets/{ds.id}/records",
                    params={"include": ["responses"], "offset": offset, "limit": opts.page_size},
                )
                page.raise_for_status()
                return page.json()["items"]

            where = f"reading the dataset's records {offset}-{offset + opts.page_size - 1}"
            items = guarded(where, api_key, read_page)
            for record in items:
                metadata = record.get("metadata") or {}
                rid = record.get("external_id") or str(record["id"])
                parsed = parse_record_id(rid)
                answers = _answers(record, usernames)
                counts["answers"] += len(answers)
                counts["invalid_answers"] += sum(not a.usable for a in answers)
                decision = resolve(answers)
                sources.append(str(metadata.get("source", "unknown")))
                if parsed is None:
                    reasons.append("not_a_review_record")
                elif not answers:
                    reasons.append("no_submitted_answer")
                elif decision is None:
                    reasons.append("no_usable_answer")
                elif decision["n_answers"] < opts.min_answers:
                    reasons.append("below_min_answers")
                else:
                    reasons.append(None)
                    rows.append(
                        {
                            "record_id": rid,
                            "prompt_id": parsed[0],
                            "completion_index": parsed[1],
                            "response_sha256": metadata.get("response_sha256"),
                            "source": metadata.get("source"),
                            "model": metadata.get("model"),
                            "overall_score": metadata.get("overall_score"),
                            **decision,
                        }
                    )
            bar.advance(len(items))
            offset += len(items)
            if len(items) < opts.page_size:
                break
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
            "records": len(reasons),
            "decisions": decisions.num_rows,
            "answers": counts["answers"],
            "invalid_answers": counts["invalid_answers"],
            "by_decision": dict(Counter(r["decision"] for r in rows)),
            "resolved_by": dict(Counter(r["resolved_by"] for r in rows)),
        },
    )
    report.info.update(
        {
            "api_url": connection.resolved_url(),
            "workspace": connection.workspace,
            "dataset": connection.dataset,
            "rule": "majority verdict, ties to the most recent answer; correct needs a corrected score",
            "options": asdict(opts),
            "output": str(output),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    write_report(report, report_path(output))
    return report
