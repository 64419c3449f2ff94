"""Push flagged completions (the output of ``notus-data flag``) to an Argilla dataset for review.

Two kinds (``level``): ``prompt`` (the default: one record per flagged prompt with every completion of it, see
:mod:`notus_data.review.prompts` and :mod:`notus_data.review.push_prompts`) and ``completion`` (one record per
flagged completion, :mod:`notus_data.review.settings`). The dataset is created, or reused when it exists and has
the fields, questions and metadata of its kind. A record's id is stable (the prompt_id, or
``{prompt_id}-{completion_index}``: :func:`record_id`), so records already in the dataset are left alone (their
answers and suggestions stay as they are), and pushing the same file twice adds nothing the second time. Records go
in batches of ``batch_size``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError, SchemaError
from notus_data.io import TableSource, iter_table_batches, read_table
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.client import ConnectionOptions, connect
from notus_data.review.datasets import (
    RecordIds,
    annotator_warning,
    existing_ids,
    min_submitted_of,
    open_dataset,
    upsert,
)
from notus_data.review.guidelines import completion_guidelines
from notus_data.review.push_prompts import push_prompts
from notus_data.review.settings import (
    SUGGESTION_AGENT,
    build_settings,
    missing_parts,
    suggested_verdict,
)
from notus_data.steps.flag import FLAGGED_SCHEMA, REASONS

#: The server takes at most this many records in one request.
MAX_BATCH = 500


def record_id(prompt_id: str, completion_index: int) -> str:
    """The Argilla record id of a completion: stable across pushes and runs.

    >>> record_id("ab12", 3)
    'ab12-3'
    """
    return f"{prompt_id}-{completion_index}"


def parse_record_id(rid: str) -> tuple[str, int] | None:
    """(prompt_id, completion_index) of a record id made by :func:`record_id`; None for any other id.

    >>> parse_record_id("ab12-3"), parse_record_id("something else")
    (('ab12', 3), None)
    """
    prompt_id, _, index = str(rid).rpartition("-")
    return (prompt_id, int(index)) if prompt_id and index.isdigit() else None


@dataclass
class PushOptions:
    """What goes to Argilla. Every field is a ``notus-data review push`` option of the same name."""

    batch_size: int = field(default=256, metadata={"help": f"records per request (1-{MAX_BATCH})"})
    reasons: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "push only completions flagged for one of these reasons, comma-separated (default: all)"
        },
    )
    limit: int | None = field(default=None, metadata={"help": "push at most this many new records"})
    min_submitted: int = field(
        default=1,
        metadata={
            "help": "submitted answers that take a record out of the queue (a new dataset's task distribution); "
            "with several reviewers set it to their number, so that each record gets a majority"
        },
    )
    level: str = field(
        default="prompt",
        metadata={
            "help": "prompt: one record per flagged prompt with all its completions; completion: one each"
        },
    )
    data: str | None = field(
        default=None,
        metadata={
            "help": "the data FLAGGED was flagged from, for the other completions of each prompt (default: the "
            "input named in FLAGGED's report)"
        },
    )

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise OptionError(f"batch_size: {self.batch_size} must be in 1..{MAX_BATCH}")
        if isinstance(self.reasons, str):
            self.reasons = tuple(r.strip() for r in self.reasons.split(",") if r.strip()) or None
        if self.reasons is not None:
            self.reasons = tuple(self.reasons)
            unknown = [r for r in self.reasons if r not in REASONS]
            if unknown or not self.reasons:
                raise OptionError(
                    f"reasons: {unknown or 'none'} not flag reasons; choose from {', '.join(REASONS)}"
                )
        if self.limit is not None and self.limit < 0:
            raise OptionError(f"limit: {self.limit} must be >= 0")
        if self.min_submitted < 1:
            raise OptionError(f"min_submitted: {self.min_submitted} must be >= 1")
        if self.level not in ("prompt", "completion"):
            raise OptionError(f"level: {self.level!r} is not a review kind; choose prompt or completion")


def _check_input(path: str | os.PathLike) -> None:
    names = TableSource(path).schema().names
    missing = [n for n in FLAGGED_SCHEMA.names if n not in names]
    if missing:
        raise SchemaError(
            f"{path}: missing column(s) {missing}; push takes the output of `notus-data flag INPUT OUTPUT`"
        )


def _float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def build_records(batch: pa.Table) -> list[Any]:
    """``argilla.Record`` objects for a batch of flagged completions (metadata without nulls)."""
    import argilla as rg

    records = []
    for row in batch.to_pylist():
        metadata = {
            "source": row["source"],
            "model": row["model"],
            "flags": row["reasons"],
            "overall_score": _float(row["overall_score"]),
            "avg_rating": _float(row["avg_rating"]),
            "score_gap": _float(row["score_gap"]),
            "critique_negativity": _float(row["critique_negativity"]),
            "response_sha256": row["response_sha256"],
        }
        metadata = {k: v for k, v in metadata.items() if v is not None and v != []}
        fields = {
            "instruction": row["instruction"] or "(empty instruction)",
            "response": row["response"] or "(empty response)",
        }
        if row["critique"]:
            fields["critique"] = row["critique"]
        verdict = suggested_verdict(row["reasons"])
        suggestions = [rg.Suggestion("verdict", verdict, agent=SUGGESTION_AGENT)]
        if verdict == "correct" and row["suggested_score"] is not None:
            suggestions.append(
                rg.Suggestion("corrected_score", int(row["suggested_score"]), agent=SUGGESTION_AGENT)
            )
        records.append(
            rg.Record(
                id=record_id(row["prompt_id"], row["completion_index"]),
                fields=fields,
                metadata=metadata,
                suggestions=suggestions,
            )
        )
    return records


def _outcomes(batch: pa.Table, outcome: np.ndarray) -> pa.Table:
    """Per flagged completion: why it was not sent (null when it was), for :meth:`Report.add_outcomes`."""
    return pa.table(
        {
            "source": batch.column("source"),
            "reason": pa.array(outcome.tolist(), pa.string()),
            "n_out": pa.array((outcome == None).astype(np.int64)),  # noqa: E711
        }
    )


def push(
    input: str | os.PathLike,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    workspace: str = "argilla",
    dataset: str = "notus-data-review",
    timeout: float = 60.0,
    progress: bool = False,
    **options: Any,
) -> Report:
    """Push the flagged completions in ``input`` (from ``notus-data flag``) to the Argilla review dataset.

    Returns the report: flagged completions read (``rows_in``), records added (``rows_out``), and the others
    counted by reason (``already_in_dataset``, ``reason_not_selected``, ``over_limit``, ``duplicate_record``).
    ``options`` are the fields of :class:`PushOptions`; the connection ones those of :class:`ConnectionOptions`.
    """
    opts = PushOptions(**options)
    connection = ConnectionOptions(
        api_url=api_url, api_key=api_key, workspace=workspace, dataset=dataset, timeout=timeout
    )
    _check_input(input)
    started = time.perf_counter()
    client = connect(connection)
    if opts.level == "prompt":
        report, ds, created = push_prompts(input, client, connection, opts, progress)
    else:
        report, ds, created = _push_completions(input, client, connection, opts, progress)
    report.info.update(
        {
            "input": str(input),
            "api_url": connection.resolved_url(),
            "workspace": connection.workspace,
            "dataset": connection.dataset,
            "dataset_created": created,
            "level": opts.level,
            "options": asdict(opts),
        }
    )
    warning = annotator_warning(client, connection, min_submitted_of(ds))
    report.info["warnings"] = [warning] if warning else []
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _push_completions(
    input: Any, client: Any, connection: ConnectionOptions, opts: PushOptions, progress: bool
):
    """One record per flagged completion; return (report, the dataset, whether it was created)."""
    api_key = connection.resolved_key()  # only ever used to scrub error messages
    flags = Counter(
        r for rs in read_table(input, ["reasons"]).column("reasons").to_pylist() for r in rs or ()
    )

    def settings() -> Any:
        guidelines = completion_guidelines(dict(flags), min_submitted=opts.min_submitted)
        return build_settings(opts.min_submitted, guidelines)

    ds, created = open_dataset(client, connection, settings, missing_parts)
    seen = existing_ids(ds, api_key) if not created else set()
    report = Report("review push")
    report.info["records_before"] = len(seen)
    record_ids = RecordIds(seen, opts.limit)
    total = TableSource(input).num_rows
    with progress_bar("push", total, progress) as bar:
        for batch in iter_table_batches(input, FLAGGED_SCHEMA.names, batch_size=opts.batch_size):
            ids = pc.binary_join_element_wise(
                batch.column("prompt_id"), pc.cast(batch.column("completion_index"), pa.string()), "-"
            ).to_pylist()
            outcome = np.full(batch.num_rows, None, dtype=object)
            if opts.reasons is not None:
                wanted = set(opts.reasons)
                keep = [bool(wanted.intersection(r or ())) for r in batch.column("reasons").to_pylist()]
                outcome[~np.array(keep, dtype=bool)] = "reason_not_selected"
            for i, rid in enumerate(ids):
                if outcome[i] is None:
                    outcome[i] = record_ids.claim(rid)
            send = pa.array(np.flatnonzero(outcome == None), type=pa.int64())  # noqa: E711
            if len(send):
                upsert(client, ds, build_records(batch.take(send)), connection, api_key)
            report.add_outcomes(_outcomes(batch, outcome))
            bar.advance(batch.num_rows)
    report.check()
    report.add_step("push", {"records_added": record_ids.added, "records_after": len(seen)})
    return report, ds, created
