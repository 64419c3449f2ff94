"""The review decisions step: apply reviewers' verdicts to canonical UltraFeedback batches, before scoring.

A decision names a completion by ``(prompt_id, completion_index)`` and says:

- ``confirm``: nothing changes (counted as ``confirmed``);
- ``correct``: the completion's ``overall_score`` becomes ``corrected_score`` (``score_corrected``); this changes
  pairs only where the score source is ``overall-score`` (the zephyr strategy's default);
- ``rank`` (only a ranking, no verdict): nothing changes but the rank;
- ``discard``: every score of the completion (overall_score, fine_grained_score, the four aspect ratings) becomes
  null, so it takes no part in pairing under any score source (``discarded``); its text stays, and the other
  completions keep their positions, so later decisions still match.

When the decision carries the ``response_sha256`` of the text that was reviewed and the completion's text is not
that text (another version of the data, or another row with the same prompt whose completion differs: record ids
come from the prompt_id and the completion index), nothing is applied (``text_differs``). Decisions that match no
completion of the input are counted as ``unmatched`` by :class:`DecisionTracker`.

A ``human_rank`` column (from a prompt-level review's ranking; optional) becomes the batch's ``human_rank``
(list<double> aligned with ``completions``, null where unranked), the score source ``human``
(:mod:`notus_data.steps.score`); ranks applied are counted as ``ranked``. Files without it apply as before.

>>> import pyarrow as pa
>>> from notus_data.schema import COMPLETION_TYPE
>>> c = {"model": "m", "response": "r", "critique": None, "overall_score": 10.0, "fine_grained_score": None,
...      "instruction_following": 1.0, "honesty": 1.0, "truthfulness": 1.0, "helpfulness": 1.0}
>>> t = pa.table({"row_index": [0], "prompt_id": ["p"], "completions": pa.array([[c, c]], pa.list_(COMPLETION_TYPE))})
>>> d = pa.table({"prompt_id": ["p", "p"], "completion_index": [0, 1], "decision": ["correct", "discard"],
...               "corrected_score": [1.0, None]})
>>> new, counts = apply_decisions(t, d)
>>> [x["overall_score"] for x in new.column("completions")[0].as_py()], counts["score_corrected"], counts["discarded"]
([1.0, None], 1, 1)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError
from notus_data.io import read_table
from notus_data.schema import ASPECTS, list_parts
from notus_data.steps.base import Finish, Step, StepResult

DECISIONS = ("confirm", "correct", "discard", "rank")
REQUIRED_COLUMNS = ("prompt_id", "completion_index", "decision", "corrected_score")
#: The scores a discard clears.
SCORE_FIELDS = ("overall_score", "fine_grained_score", *ASPECTS)
COUNT_KEYS = ("decisions_matched", "confirmed", "score_corrected", "discarded", "text_differs")

CHANGES_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("prompt_id", pa.string()),
        ("completion_index", pa.int64()),
        ("decision", pa.string()),
        ("status", pa.string()),  # applied | text_differs | unmatched
        ("old_overall_score", pa.float64()),
        ("new_overall_score", pa.float64()),
    ]
)


def check_decisions(decisions: pa.Table, origin: str = "decisions") -> pa.Table:
    """Validate a decisions table and return it with the columns apply needs, typed.

    Raises :class:`SchemaError` naming the row, the field and the fix for a missing column, an unknown decision,
    a ``correct`` without a score in 1-10, or two decisions for one completion.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in decisions.column_names]
    if missing:
        raise SchemaError(
            f"{origin}: missing column(s) {missing}; a decisions file comes from `notus-data review pull`"
        )
    columns = {
        "prompt_id": decisions.column("prompt_id").cast(pa.string()),
        "completion_index": decisions.column("completion_index").cast(pa.int64()),
        "decision": decisions.column("decision").cast(pa.string()),
        "corrected_score": decisions.column("corrected_score").cast(pa.float64()),
        "response_sha256": (
            decisions.column("response_sha256").cast(pa.string())
            if "response_sha256" in decisions.column_names
            else pa.nulls(decisions.num_rows, pa.string())
        ),
    }
    if (
        "human_rank" in decisions.column_names
        and decisions.column("human_rank").null_count < decisions.num_rows
    ):
        columns["human_rank"] = decisions.column("human_rank").cast(pa.float64())  # only a file with ranks
    table = pa.table(columns)

    def bad(mask: Any, field: str, expected: str) -> None:
        rows = np.flatnonzero(np.asarray(pc.fill_null(mask, True)))
        if len(rows):
            value = table.column(field)[int(rows[0])].as_py()
            raise SchemaError(
                f"{origin}: row {int(rows[0])}: field '{field}' = {value!r}; expected {expected}"
                + (f" ({len(rows)} rows like this)" if len(rows) > 1 else "")
            )

    bad(pc.is_null(table.column("prompt_id")), "prompt_id", "the completion's prompt_id")
    bad(pc.less(table.column("completion_index"), 0), "completion_index", "an index >= 0")
    bad(pc.invert(pc.is_in(table.column("decision"), pa.array(DECISIONS))), "decision", " | ".join(DECISIONS))
    score = table.column("corrected_score")
    wrong_score = pc.and_(
        pc.equal(table.column("decision"), "correct"),
        pc.invert(pc.fill_null(pc.and_(pc.greater_equal(score, 1), pc.less_equal(score, 10)), False)),
    )
    bad(wrong_score, "corrected_score", "a score in 1-10 with decision 'correct'")
    keys = _keys(table.column("prompt_id"), table.column("completion_index"))
    counts = pc.value_counts(keys)
    dup = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    if len(dup):
        key = dup.field("values")[0].as_py()
        rows = np.flatnonzero(np.asarray(pc.equal(keys, key)))
        raise SchemaError(
            f"{origin}: rows {rows.tolist()}: two decisions for completion {key!r}; keep one per completion"
        )
    return table


def load_decisions(path: str | os.PathLike) -> pa.Table:
    """Read and validate a decisions file (.parquet / .jsonl, from ``notus-data review pull``)."""
    return check_decisions(read_table(path), str(path))


def _keys(prompt_ids: Any, indexes: Any) -> pa.Array:
    joined = pc.binary_join_element_wise(prompt_ids, pc.cast(indexes, pa.string()), "-")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _sha256(values: list[str | None]) -> list[str | None]:
    return [None if v is None else hashlib.sha256(v.encode("utf-8")).hexdigest() for v in values]


def decision_changes(table: pa.Table, decisions: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """What the decisions do to one canonical batch.

    Returns (changes: one :data:`CHANGES_SCHEMA` row per completion a decision names, status ``applied`` or
    ``text_differs``; the flat completion positions of those rows; the position of each one's decision).
    """
    completions = table.column("completions").combine_chunks()
    lengths, starts, flat = list_parts(completions)
    row = np.repeat(np.arange(table.num_rows), lengths)
    index = np.arange(len(row)) - np.repeat(starts, lengths)
    prompt_ids = table.column("prompt_id").combine_chunks().take(pa.array(row, type=pa.int64()))
    keys = _keys(prompt_ids, pa.array(index, type=pa.int64()))
    decision_keys = _keys(decisions.column("prompt_id"), decisions.column("completion_index"))
    found = pc.index_in(keys, value_set=decision_keys)
    at = np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False))
    which = pc.take(found, pa.array(at, type=pa.int64())).to_numpy(zero_copy_only=False).astype(np.int64)

    want_sha = decisions.column("response_sha256").combine_chunks().take(pa.array(which, type=pa.int64()))
    responses = pc.struct_field(flat, "response").take(pa.array(at, type=pa.int64())).to_pylist()
    differs = np.array(
        [w is not None and w != h for w, h in zip(want_sha.to_pylist(), _sha256(responses), strict=True)],
        dtype=bool,
    )
    verdict = decisions.column("decision").combine_chunks().take(pa.array(which, type=pa.int64()))
    old = pc.struct_field(flat, "overall_score").to_numpy(zero_copy_only=False).astype(np.float64)[at]
    corrected = decisions.column("corrected_score").combine_chunks().to_numpy(zero_copy_only=False)
    corrected = corrected.astype(np.float64)[which] if len(which) else np.zeros(0)
    verdicts = np.array(verdict.to_pylist(), dtype=object)
    new = np.where(verdicts == "correct", corrected, np.where(verdicts == "discard", np.nan, old))
    new = np.where(differs, old, new)
    changes = pa.Table.from_arrays(
        [
            table.column("row_index").combine_chunks().take(pa.array(row[at], type=pa.int64())),
            prompt_ids.take(pa.array(at, type=pa.int64())),
            pa.array(index[at], type=pa.int64()),
            verdict,
            pa.array(np.where(differs, "text_differs", "applied").tolist(), pa.string()),
            pa.array(old, type=pa.float64(), from_pandas=True),
            pa.array(new, type=pa.float64(), from_pandas=True),
        ],
        schema=CHANGES_SCHEMA,
    )
    return changes, at, which


def _with_scores(
    table: pa.Table, flat_positions: np.ndarray, overall: np.ndarray, cleared: np.ndarray
) -> pa.Table:
    """``table`` with new overall_scores at ``flat_positions`` and every score cleared where ``cleared``."""
    completions = table.column("completions").combine_chunks()
    lengths, _, flat = list_parts(completions)
    children = []
    for f in flat.type:
        child = pc.struct_field(flat, f.name)
        if f.name in SCORE_FIELDS:
            values = child.to_numpy(zero_copy_only=False).astype(np.float64)
            if f.name == "overall_score":
                values[flat_positions] = overall
            values[flat_positions[cleared]] = np.nan
            child = pa.array(values, type=f.type, from_pandas=True)
        children.append(child)
    new_flat = pa.StructArray.from_arrays(children, fields=list(flat.type), mask=pc.is_null(flat))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    new_list = pa.ListArray.from_arrays(
        offsets, new_flat, type=completions.type, mask=pc.is_null(completions)
    )
    return table.set_column(table.column_names.index("completions"), "completions", new_list)


def _with_ranks(table: pa.Table, decisions: pa.Table, at: np.ndarray, which: np.ndarray, ok: np.ndarray):
    """``table`` with a ``human_rank`` column: the decisions' ranks at the applied positions, null elsewhere."""
    completions = table.column("completions").combine_chunks()
    lengths, _, flat = list_parts(completions)
    ranks = np.full(len(flat), np.nan)
    given = decisions.column("human_rank").combine_chunks().to_numpy(zero_copy_only=False).astype(np.float64)
    ranks[at[ok]] = given[which[ok]]
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(ranks, pa.float64(), mask=np.isnan(ranks)))
    return table.append_column("human_rank", column)


def _counts(changes: pa.Table, ranked: int | None = None) -> dict[str, int]:
    status = np.array(changes.column("status").to_pylist(), dtype=object)
    decision = np.array(changes.column("decision").to_pylist(), dtype=object)
    applied = status == "applied"
    extra = {"ranked": ranked} if ranked is not None else {}
    return {
        **extra,
        "decisions_matched": int(changes.num_rows),
        "confirmed": int((applied & (decision == "confirm")).sum()),
        "score_corrected": int((applied & (decision == "correct")).sum()),
        "discarded": int((applied & (decision == "discard")).sum()),
        "text_differs": int((status == "text_differs").sum()),
    }


def _apply(table: pa.Table, decisions: pa.Table) -> tuple[pa.Table, pa.Table, np.ndarray, int | None]:
    """(the batch with the decisions applied, the changes, the position of each change's decision, the ranks
    applied: None without a ``human_rank`` column)."""
    changes, at, which = decision_changes(table, decisions)
    applied = np.array(changes.column("status").to_pylist(), dtype=object) == "applied"
    if changes.num_rows:
        discard = applied & (np.array(changes.column("decision").to_pylist(), dtype=object) == "discard")
        new = changes.column("new_overall_score").to_numpy(zero_copy_only=False).astype(np.float64)
        table = _with_scores(table, at, new, discard)
    if "human_rank" in decisions.column_names:
        has_rank = ~np.isnan(
            decisions.column("human_rank").combine_chunks().to_numpy(zero_copy_only=False).astype(np.float64)
        )
        ok = applied & has_rank[which]
        return _with_ranks(table, decisions, at, which, ok), changes, which, int(ok.sum())
    return table, changes, which, None


def apply_decisions(table: pa.Table, decisions: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Apply review decisions to one canonical batch (before :func:`score_table`); see the module doc.

    ``decisions`` is a table as written by ``notus-data review pull`` (checked by :func:`check_decisions`).
    Returns (the batch with the changes, counts: ``decisions_matched``, ``confirmed``, ``score_corrected``,
    ``discarded``, ``text_differs``). Pure: the input table is not modified.
    """
    if "score" in table.column_names or "avg_rating" in table.column_names:
        raise SchemaError("apply_decisions: the table is already scored; apply decisions before score_table")
    table, changes, _, ranked = _apply(table, check_decisions(decisions))
    return table, _counts(changes, ranked)


@dataclass
class MatchedDecisions:
    """Which decisions matched a completion so far (a stat: merges by OR)."""

    mask: np.ndarray

    def merge(self, other: MatchedDecisions) -> MatchedDecisions:
        return MatchedDecisions(self.mask | other.mask)


def unmatched_changes(decisions: pa.Table, matched: np.ndarray) -> pa.Table:
    """One ``unmatched`` change row per decision that matched no completion."""
    unmatched = pa.array(np.flatnonzero(~matched), type=pa.int64())
    rest = decisions.take(unmatched)
    return pa.Table.from_arrays(
        [
            pa.nulls(len(unmatched), pa.int64()),
            rest.column("prompt_id"),
            rest.column("completion_index"),
            rest.column("decision"),
            pa.array(["unmatched"] * len(unmatched), pa.string()),
            pa.nulls(len(unmatched), pa.float64()),
            pa.nulls(len(unmatched), pa.float64()),
        ],
        schema=CHANGES_SCHEMA,
    )


class DecisionsStep(Step):
    """Applies review decisions (a file from ``notus-data review pull``, or a table) to canonical batches.

    Side output ``changes``: one :data:`CHANGES_SCHEMA` row per completion a decision named, then, after the last
    batch, one ``unmatched`` row per decision that matched nothing. Section ``name`` (``decisions`` in binarize,
    ``review`` in a recipe): decisions_matched, confirmed, score_corrected, discarded, text_differs per batch;
    decisions and unmatched at the end.
    """

    reads = ("prompt_id", "row_index", "completions")
    side_outputs = {"changes": CHANGES_SCHEMA}

    def __init__(self, decisions: str | os.PathLike | pa.Table, *, name: str = "decisions") -> None:
        self.name = name
        self.source = decisions
        self.decisions: pa.Table | None = None

    def setup(self) -> None:
        if self.decisions is None:
            if isinstance(self.source, pa.Table):
                self.decisions = check_decisions(self.source)
            else:
                self.decisions = load_decisions(self.source)

    def process(self, table: pa.Table, start: int) -> StepResult:
        table, changes, which, ranked = _apply(table, self.decisions)
        matched = np.zeros(self.decisions.num_rows, dtype=bool)
        matched[which] = True
        return StepResult(
            table,
            side={"changes": changes},
            counts=_counts(changes, ranked),
            stats={self.name: MatchedDecisions(matched)},
        )

    def finish(self, stats: dict[str, Any]) -> Finish:
        found = stats.get(self.name)
        matched = found.mask if found is not None else np.zeros(self.decisions.num_rows, dtype=bool)
        counts = {"decisions": self.decisions.num_rows, "unmatched": int((~matched).sum())}
        return Finish(counts=counts, side={"changes": unmatched_changes(self.decisions, matched)})


class DecisionTracker:
    """Applies decisions batch after batch and keeps what changed (the step, run by hand).

    >>> tracker = DecisionTracker(load_decisions("decisions.parquet"))  # doctest: +SKIP
    >>> batch = tracker.apply(batch)  # doctest: +SKIP
    >>> tracker.counts()  # doctest: +SKIP
    """

    def __init__(self, decisions: pa.Table) -> None:
        self.step = DecisionsStep(decisions)
        self.step.setup()
        self._changes: list[pa.Table] = []
        self._counts = dict.fromkeys(COUNT_KEYS, 0)
        self._matched = MatchedDecisions(np.zeros(self.step.decisions.num_rows, dtype=bool))

    def apply(self, table: pa.Table) -> pa.Table:
        """Apply the decisions to one canonical batch; remember the changes."""
        result = self.step.process(table, 0)
        self._changes.append(result.side["changes"])
        self._matched = self._matched.merge(result.stats[self.step.name])
        for key, n in result.counts.items():
            self._counts[key] = self._counts.get(key, 0) + n
        return result.table

    def counts(self) -> dict[str, int]:
        """Counts so far, with ``decisions`` (all) and ``unmatched`` (decisions no completion matched yet)."""
        done = self.step.finish({self.step.name: self._matched}).counts
        return {"decisions": done["decisions"], **self._counts, "unmatched": done["unmatched"]}

    def changes(self) -> pa.Table:
        """Every change so far, then one ``unmatched`` row per decision that matched nothing."""
        return pa.concat_tables([*self._changes, unmatched_changes(self.step.decisions, self._matched.mask)])
