"""``review pairs apply``: apply pair-review decisions to a pairs set. Needs no Argilla server.

Each input pair is matched to its decision by record id (:func:`notus_data.review.pairs.pair_record_ids`); the
answer names a side (A / B), mapped back to chosen / rejected through the sha256 of the A and B texts the record
was pushed with:

- the better response is the chosen one: the pair is **kept** as it is (``kept``);
- the better response is the rejected one: the pair is **swapped** (``swapped``): every ``chosen*`` column trades
  its value with its ``rejected*`` twin (``chosen_response`` / ``rejected_response``, ``chosen-rating`` / ...,
  ``score_chosen`` / ``score_rejected``), ``margin`` changes sign, and h4's ``messages`` becomes the new chosen;
- ``tie``: the pair is **dropped** as ``review_tie`` (the reviewers saw no preference to learn);
- ``unusable``: the pair is **dropped** as ``review_unusable`` (neither response should be trained on);
- the pair's texts are not the texts that were reviewed (``text_differs``), or the pair has no decision
  (``not_reviewed``): the pair is written unchanged.

Every other column and the row order stay as they are: the output has the input's columns (its format). Each
decision that met a pair, and each that met none (``unmatched``), is a line of ``OUTPUT.changes.jsonl``; the
report counts them (``pair_decisions`` section) and the dropped pairs by reason.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError
from notus_data.io import AtomicWriter, guard_outputs, read_table, report_path
from notus_data.io.atomic import write_report
from notus_data.io.pairs import load_pairs, read_pairs
from notus_data.io.paths import sidecar_path
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.review.pairs import ANSWERS, pair_record_ids
from notus_data.schema import sha256_hex

DROPS = {"tie": "review_tie", "unusable": "review_unusable"}
PAIR_CHANGES_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("record_id", pa.string()),
        ("decision", pa.string()),
        ("action", pa.string()),  # kept | swapped | dropped | unchanged
        ("status", pa.string()),  # applied | text_differs | unmatched
        ("reason", pa.string()),  # review_tie / review_unusable for a dropped pair
    ]
)


def read_pair_decisions(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """record id -> decision row of a pair-decisions file, checked (one line error naming the row and field)."""
    table = read_table(path)
    missing = [c for c in ("record_id", "decision", "a_sha256", "b_sha256") if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"{path}: missing column(s) {missing}; it comes from `notus-data review pairs pull`"
        )
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(table.select(["record_id", "decision", "a_sha256", "b_sha256"]).to_pylist()):
        if row["decision"] not in ANSWERS:
            raise SchemaError(
                f"{path}: row {i}, field 'decision': {row['decision']!r} is not one of {', '.join(ANSWERS)}; "
                "pull the decisions again with `notus-data review pairs pull`"
            )
        if row["record_id"] in out:
            raise SchemaError(f"{path}: row {i}, field 'record_id': {row['record_id']!r} has two decisions")
        out[row["record_id"]] = row
    return out


def swap_columns(raw: pa.Table, swap: np.ndarray) -> pa.Table:
    """``raw`` with each ``chosen*`` column and its ``rejected*`` twin traded where ``swap`` is True."""
    if not swap.any():
        return raw
    mask = pa.array(swap)
    columns = {name: raw.column(name) for name in raw.column_names}
    for name in raw.column_names:
        twin = name.replace("chosen", "rejected")
        if "chosen" in name and twin in columns and twin != name:
            c, r = raw.column(name), raw.column(twin)
            columns[name], columns[twin] = pc.if_else(mask, r, c), pc.if_else(mask, c, r)
    if "margin" in columns:
        margin = raw.column("margin")
        columns["margin"] = pc.if_else(mask, pc.negate(margin), margin)
    types = {f.name: f.type for f in raw.schema}
    if "messages" in types and types["messages"] == types.get("chosen"):
        columns["messages"] = pc.if_else(mask, columns["chosen"], raw.column("messages"))
    return pa.table(columns, schema=raw.schema)


def apply_pairs(
    input: Any,
    output: str | os.PathLike,
    *,
    decisions: str | os.PathLike,
    batch_size: int = 10_000,
    progress: bool = False,
) -> Report:
    """Apply the pair ``decisions`` (from ``review pairs pull``) to the pairs set ``input``; write ``output``
    (the input's columns), ``OUTPUT.changes.jsonl`` and ``OUTPUT.report.json``. See the module docstring."""
    changes_path = sidecar_path(output, "changes.jsonl")
    guard_outputs("review pairs apply", [output, report_path(output), changes_path], [input, decisions])
    wanted = read_pair_decisions(decisions)
    source = load_pairs(input)
    report = Report("review pairs apply")
    counts: Counter = Counter()
    met: set[str] = set()
    start = 0
    with (
        AtomicWriter(output, source.reader.schema(), command="review pairs apply") as writer,
        AtomicWriter(changes_path, PAIR_CHANGES_SCHEMA, command="review pairs apply") as changes,
        progress_bar("apply", source.num_rows, progress) as bar,
    ):
        for _, raw, _ in source.reader.batches(None, batch_size):
            if raw.num_rows == 0:
                continue
            if source.format is None:
                source.prepare(raw, start, source.origin)
            pairs = read_pairs(raw, source.format, start)
            ids = pair_record_ids(pairs.column("prompt_id"), pairs.column("chosen"), pairs.column("rejected"))
            chosen_sha = sha256_hex(pairs.column("chosen")).to_pylist()
            rejected_sha = sha256_hex(pairs.column("rejected")).to_pylist()
            swap = np.zeros(raw.num_rows, dtype=bool)
            outcome = np.full(raw.num_rows, None, dtype=object)
            lines = []
            for i, rid in enumerate(ids.to_pylist()):
                row = wanted.get(rid) if rid is not None else None
                if row is None:
                    counts["not_reviewed"] += 1
                    continue
                met.add(rid)
                answer, action, status, reason = row["decision"], "unchanged", "applied", None
                if answer in DROPS:
                    action, reason = "dropped", DROPS[answer]
                    outcome[i] = reason
                else:
                    better = row["a_sha256"] if answer == "A" else row["b_sha256"]
                    other = row["b_sha256"] if answer == "A" else row["a_sha256"]
                    if (better, other) == (chosen_sha[i], rejected_sha[i]):
                        action = "kept"
                    elif (better, other) == (rejected_sha[i], chosen_sha[i]):
                        action, swap[i] = "swapped", True
                    else:
                        status = "text_differs"
                counts[action if status == "applied" else status] += 1
                lines.append({"row_index": start + i, "record_id": rid, "decision": answer, "action": action,
                              "status": status, "reason": reason})  # fmt: skip
            keep = pa.array(outcome == None)  # noqa: E711
            writer.write(swap_columns(raw, swap).filter(keep))
            changes.write(pa.Table.from_pylist(lines, schema=PAIR_CHANGES_SCHEMA))
            report.add_outcomes(
                pa.table({"source": pairs.column("source"), "reason": pa.array(outcome.tolist(), pa.string()),
                          "n_out": pa.array((outcome == None).astype(np.int64))})  # noqa: E711
            )  # fmt: skip
            bar.advance(raw.num_rows)
            start += raw.num_rows
        unmatched = sorted(set(wanted) - met)
        changes.write(
            pa.Table.from_pylist(
                [{"row_index": None, "record_id": rid, "decision": wanted[rid]["decision"], "action": "unchanged",
                  "status": "unmatched", "reason": None} for rid in unmatched],
                schema=PAIR_CHANGES_SCHEMA,
            )
        )  # fmt: skip
    counts["unmatched"] = len(unmatched)
    report.check()
    report.add_step(
        "pair_decisions",
        {"decisions": len(wanted), "kept": counts["kept"], "swapped": counts["swapped"],
         "dropped": counts["dropped"], "text_differs": counts["text_differs"], "unmatched": counts["unmatched"],
         "not_reviewed": counts["not_reviewed"]},
    )  # fmt: skip
    report.info.update(
        {"input": source.origin, "format": source.format, "decisions": str(decisions), "output": str(output),
         "changes": str(changes_path),
         "rule": "A/B mapped back to chosen/rejected: the chosen one better -> kept, the rejected one better -> "
                 "swapped, tie -> dropped (review_tie), both unusable -> dropped (review_unusable)"}
    )  # fmt: skip
    write_report(report, report_path(output))
    return report
