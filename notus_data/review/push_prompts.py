"""Push flagged prompts as prompt-level records (:mod:`notus_data.review.prompts`), the default kind of review.

Every flagged completion is accounted for in the report: sent (its prompt's record was added), or counted by why
not (``reason_not_selected``, ``already_in_dataset``, ``over_limit`` (``limit`` counts records), ``duplicate_prompt``
(a later row with the same prompt_id: one record per prompt), ``too_many_completions`` (more completions than the
existing dataset has fields for)).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.client import ConnectionOptions
from notus_data.review.datasets import RecordIds, existing_ids, open_dataset, upsert
from notus_data.review.gather import data_of, flagged_table, gather_prompts
from notus_data.review.guidelines import prompt_guidelines
from notus_data.review.prompts import (
    MIN_SLOTS,
    build_prompt_record,
    build_prompt_settings,
    dataset_slots,
    prompt_missing_parts,
)


def push_prompts(
    input: str | os.PathLike, client: Any, connection: ConnectionOptions, opts: Any, progress: bool
):
    """Push the flagged prompts of ``input``; return (report, the dataset, whether it was created)."""
    api_key = connection.resolved_key()
    table = flagged_table(input)
    reasons_col = table.column("reasons").to_pylist()
    outcome = np.full(table.num_rows, None, dtype=object)
    if opts.reasons is not None:
        wanted = set(opts.reasons)
        outcome[[not wanted.intersection(r or ()) for r in reasons_col]] = "reason_not_selected"
    data, revision = data_of(input, opts.data)
    selected = table.filter(pa.array(outcome == None))  # noqa: E711
    positions = np.flatnonzero(outcome == None)  # noqa: E711
    prompts, gathered = gather_prompts(selected, data, revision)
    flag_counts = Counter(r for rs in selected.column("reasons").to_pylist() for r in rs or ())
    slots = max([MIN_SLOTS, *(len(p["completions"]) for p in prompts)])

    def settings() -> Any:
        guidelines = prompt_guidelines(
            dict(flag_counts), prompts=len(prompts), min_submitted=opts.min_submitted
        )
        return build_prompt_settings(slots, opts.min_submitted, guidelines)

    ds, created = open_dataset(client, connection, settings, prompt_missing_parts, "prompt-level review")
    have = dataset_slots(ds)
    seen = existing_ids(ds, api_key) if not created else set()
    before = len(seen)
    record_ids = RecordIds(seen, opts.limit, duplicate="duplicate_prompt")
    send: list[Any] = []
    firsts: list[int] = []  # the first flagged completion of each prompt sent: its record is its output

    def flush() -> None:
        if send:
            upsert(client, ds, send, connection, api_key)
            send.clear()

    with progress_bar("push", len(prompts), progress) as bar:
        for prompt in prompts:
            at = positions[prompt["flagged"]]
            why = record_ids.known(prompt["prompt_id"])
            if why is None and len(prompt["completions"]) > have:
                why = "too_many_completions"
            why = why or record_ids.take(prompt["prompt_id"])
            if why is not None:
                outcome[at] = why
            else:
                firsts.append(at[0])
                send.append(build_prompt_record(prompt))
                if len(send) >= opts.batch_size:
                    flush()
            bar.advance(1)
    flush()
    report = Report("review push")
    report.add_outcomes(
        pa.table(
            {
                "source": table.column("source"),
                "reason": pa.array(outcome.tolist(), pa.string()),
                "n_out": pa.array(np.isin(np.arange(table.num_rows), firsts).astype(np.int64)),
            }
        )
    )
    report.check()
    report.add_step(
        "push",
        {
            "prompts": len(prompts),
            "records_added": record_ids.added,
            "records_after": len(seen),
            "completion_fields": have,
            "prompts_without_data": gathered["without_data"],
            "prompts_data_differs": gathered["data_differs"],
        },
    )
    report.info.update({"records_before": before, "data": None if data is None else str(data)})
    return report, ds, created
