"""Flag completions whose critique score looks wrong, for a human to review (RECIPE section 4).

Rules, each with a reason code (``FlagOptions.rules`` picks which run; the thresholds are options):

- ``score10_low_rating``: the data set's own fix rule. ``overall_score`` is ``top_score`` (10) while the mean aspect
  rating is <= ``low_rating_max`` (2): the critique step stored a 1 as 10; the score should be 1.
- ``score10_mid_rating``: the same with a mean rating in (``low_rating_max``, ``mid_rating_max``] = (2, 4]: the
  score needs a new judgement (a mean rating above 4 lets the 10 stand).
- ``score_rating_disagree``: ``overall_score`` (1-10) and the mean rating (1-5) put on one scale
  (``rating_as_score = 1 + (avg_rating - 1) * 9 / 4``, so 1 -> 1 and 5 -> 10) are more than ``disagreement`` apart.
- ``negative_critique``: the critique reads strongly negative (:func:`critique_negativity` >=
  ``critique_negativity``, from a lexicon of critique wording written for this, no model, nothing downloaded)
  while ``overall_score`` >= ``high_score``.
- ``chosen_mismatch``: per prompt, no completion is top both by ``overall_score`` and by mean rating; the
  completions top by ``overall_score`` are flagged (the ones a Zephyr-style binarization would choose).

A completion with a null response, or without both an overall_score and a mean rating, is never flagged (it takes
no part in pairing anyway). ``suggested_score`` pre-fills the reviewer's corrected score: 1 for
``score10_low_rating`` (the data set's fix), else the mean rating on the 1-10 scale, rounded.

>>> FlagOptions(rules="score10_low_rating,chosen_mismatch").rules
('score10_low_rating', 'chosen_mismatch')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.critique import critique_scores
from notus_data.errors import OptionError, SchemaError, check_numbers
from notus_data.schema import invalid_rows, list_parts
from notus_data.steps.base import Finish, Step, StepResult, outcomes
from notus_data.steps.score import score_table

REASONS = {
    "score10_low_rating": "overall_score 10 with mean rating <= 2: the score should be 1 (the data set's fix)",
    "score10_mid_rating": "overall_score 10 with mean rating in (2, 4]: needs a new judgement",
    "score_rating_disagree": "overall_score and mean rating (on one 1-10 scale) far apart",
    "negative_critique": "strongly negative critique with a high overall_score",
    "chosen_mismatch": "chosen by overall_score but not by mean rating (per prompt)",
}

#: One sentence per reason, in plain words: what a reviewer reads beside a flagged completion (the review records
#: and guidelines) and the README's flag table (tests/test_review_prompts.py holds them equal).
PLAIN_WORDS = {
    "score10_low_rating": "The critique gave the top overall_score (10) but the aspect ratings average 2 or less "
    "(by default): the critique step probably stored a 1 as 10, and the data set's own fix says the score should be 1.",
    "score10_mid_rating": "The critique gave the top overall_score (10) while the aspect ratings average between "
    "2 and 4 (by default): the 10 may be the stored-1-as-10 bug or may stand, so it needs a new judgement.",
    "score_rating_disagree": "The overall_score and the mean aspect rating, put on the same 1-10 scale, are far "
    "apart: one of the two judgements is probably wrong.",
    "negative_critique": "The critique text reads strongly negative, yet the overall_score is high: the score "
    "may not match its own critique.",
    "chosen_mismatch": "Among this prompt's completions this one has the highest overall_score, but another has "
    "the highest mean aspect rating: the two scores would pick different chosen responses.",
}

FLAGGED_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("instruction", pa.string()),
        ("completion_index", pa.int64()),
        ("model", pa.string()),
        ("response", pa.string()),
        ("critique", pa.string()),
        ("overall_score", pa.float64()),
        ("avg_rating", pa.float64()),
        ("rating_as_score", pa.float64()),
        ("score_gap", pa.float64()),
        ("critique_negativity", pa.float64()),
        ("reasons", pa.list_(pa.string())),
        ("suggested_score", pa.float64()),
        ("response_sha256", pa.string()),
    ]
)


# --- options -----------------------------------------------------------------------------------------------
@dataclass
class FlagOptions:
    """Which rules flag a completion, and their thresholds. Every field is a ``notus-data flag`` option."""

    rules: tuple[str, ...] = field(
        default=tuple(REASONS),
        metadata={"help": "rules to run, comma-separated: " + ", ".join(REASONS)},
    )
    top_score: float = field(
        default=10.0, metadata={"help": "overall_score the fix rule looks at (the bug stored 1 as 10)"}
    )
    low_rating_max: float = field(
        default=2.0, metadata={"help": "fix rule: mean rating at or below this -> the score should be 1"}
    )
    mid_rating_max: float = field(
        default=4.0,
        metadata={"help": "fix rule: mean rating up to this (above low) -> needs a new judgement"},
    )
    disagreement: float = field(
        default=4.5,
        metadata={"help": "score_rating_disagree: least gap (1-10 scale) between overall_score and rating"},
    )
    critique_negativity: float = field(
        default=0.5, metadata={"help": "negative_critique: least critique negativity (-1..1)"}
    )
    min_negative_words: float = field(
        default=2.0,
        metadata={"help": "negative_critique: least weighted count of negative words (strong ones count 2)"},
    )
    high_score: float = field(
        default=8.0, metadata={"help": "negative_critique: least overall_score that counts as high"}
    )

    def __post_init__(self) -> None:
        check_numbers(self)
        if isinstance(self.rules, str):
            self.rules = tuple(r.strip() for r in self.rules.split(",") if r.strip())
        self.rules = tuple(self.rules)
        unknown = [r for r in self.rules if r not in REASONS]
        if unknown or not self.rules:
            raise OptionError(
                f"rules: {unknown or 'none given'} not usable; choose from {', '.join(REASONS)}"
            )
        if not 1 <= self.low_rating_max <= self.mid_rating_max <= 5:
            raise OptionError(
                f"low_rating_max={self.low_rating_max}, mid_rating_max={self.mid_rating_max}: need "
                "1 <= low_rating_max <= mid_rating_max <= 5 (mean ratings are 1-5)"
            )
        if self.disagreement < 0:
            raise OptionError(f"disagreement: {self.disagreement} must be >= 0")
        if not -1 <= self.critique_negativity <= 1:
            raise OptionError(f"critique_negativity: {self.critique_negativity} must be in [-1, 1]")
        if self.min_negative_words < 0:
            raise OptionError(f"min_negative_words: {self.min_negative_words} must be >= 0")


# --- the kernel --------------------------------------------------------------------------------------------
def rating_as_score(avg_rating: np.ndarray) -> np.ndarray:
    """A 1-5 mean rating on the 1-10 overall_score scale (1 -> 1, 5 -> 10).

    >>> rating_as_score(np.array([1.0, 3.0, 5.0]))
    array([ 1. ,  5.5, 10. ])
    """
    return 1.0 + (avg_rating - 1.0) * 9.0 / 4.0


def _segment_max(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Max of each row's segment of a flat array (-inf for an empty row)."""
    out = np.full(len(lengths), -np.inf)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        out[nonempty] = np.maximum.reduceat(values, starts)
    return out


def _segment_sum(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths), dtype=np.int64)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        out[nonempty] = np.add.reduceat(values.astype(np.int64), starts)
    return out


def _sha256(values: pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else hashlib.sha256(v.encode("utf-8")).hexdigest() for v in values.to_pylist()],
        type=pa.string(),
    )


def flag_masks(table: pa.Table, options: FlagOptions | None = None) -> dict[str, Any]:
    """The per-completion arrays the rules read and one boolean mask per rule (flat, in completion order).

    Returns a dict with ``lengths``, ``row`` (row of each completion), ``index`` (position in its row),
    ``overall``, ``avg``, ``on_scale``, ``negativity`` (float arrays, NaN where absent; the negativity is
    computed only for completions some rule looks at, NaN elsewhere), ``flat`` (the completion structs) and
    ``masks`` (reason -> bool array).
    """
    options = options or FlagOptions()
    completions = table.column("completions").combine_chunks()
    lengths, starts, flat = list_parts(completions)
    total = int(lengths.sum())
    row = np.repeat(np.arange(table.num_rows), lengths)
    index = np.arange(total) - np.repeat(starts, lengths)
    overall = pc.struct_field(flat, "overall_score").to_numpy(zero_copy_only=False).astype(np.float64)
    scored = table if "avg_rating" in table.column_names else score_table(table)
    _, _, avg_flat = list_parts(scored.column("avg_rating").combine_chunks())
    avg = avg_flat.to_numpy(zero_copy_only=False).astype(np.float64)
    on_scale = rating_as_score(avg)
    live = pc.is_valid(pc.struct_field(flat, "response")).to_numpy(zero_copy_only=False)
    live &= ~np.repeat(invalid_rows(table), lengths)
    both = live & ~np.isnan(overall) & ~np.isnan(avg)

    masks: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore"):
        is_top = both & (overall == options.top_score)
        if "score10_low_rating" in options.rules:
            masks["score10_low_rating"] = is_top & (avg <= options.low_rating_max)
        if "score10_mid_rating" in options.rules:
            masks["score10_mid_rating"] = (
                is_top & (avg > options.low_rating_max) & (avg <= options.mid_rating_max)
            )
        if "score_rating_disagree" in options.rules:
            masks["score_rating_disagree"] = both & (np.abs(overall - on_scale) > options.disagreement)
        high = live & (overall >= options.high_score) if "negative_critique" in options.rules else None
        if "chosen_mismatch" in options.rules:
            by_score = np.where(both, overall, -np.inf)
            by_rating = np.where(both, avg, -np.inf)
            top_score = both & (by_score == np.repeat(_segment_max(by_score, lengths), lengths))
            top_rating = both & (by_rating == np.repeat(_segment_max(by_rating, lengths), lengths))
            rivals = _segment_sum(both, lengths) >= 2
            agree = _segment_sum(top_score & top_rating, lengths) > 0
            masks["chosen_mismatch"] = top_score & np.repeat(rivals & ~agree, lengths)
    # The critique lexicon (the costly part) is read only where it can matter: where the negative_critique rule
    # may fire, and where another rule flags the completion (its negativity is part of the output).
    needed = high.copy() if high is not None else np.zeros(total, dtype=bool)
    for mask in masks.values():
        needed |= mask
    negativity, negative_weight = np.full(total, np.nan), np.zeros(total)
    at = np.flatnonzero(needed)
    if len(at):
        critiques = pc.struct_field(flat, "critique").take(pa.array(at, type=pa.int64()))
        negativity[at], negative_weight[at] = critique_scores(critiques)
    if high is not None:
        with np.errstate(invalid="ignore"):
            masks["negative_critique"] = (
                high
                & (negativity >= options.critique_negativity)
                & (negative_weight >= options.min_negative_words)
            )
    masks = {reason: masks[reason] for reason in REASONS if reason in masks}
    return {
        "lengths": lengths,
        "row": row,
        "index": index,
        "overall": overall,
        "avg": avg,
        "on_scale": on_scale,
        "negativity": negativity,
        "flat": flat,
        "masks": masks,
    }


def flag_table(table: pa.Table, options: FlagOptions | None = None) -> pa.Table:
    """The flagged completions of one canonical batch (with the critique), one row each, in input order.

    ``table`` may carry ``avg_rating`` from :func:`notus_data.steps.score.score_table`; without it the mean of the four
    aspect ratings is computed here. Output columns: :data:`FLAGGED_SCHEMA`.
    """
    parts = flag_masks(table, options)
    masks = parts["masks"]
    names = list(masks)
    matrix = (
        np.column_stack([masks[r] for r in names]) if names else np.zeros((len(parts["row"]), 0), dtype=bool)
    )
    hit = matrix.any(axis=1) if names else np.zeros(len(parts["row"]), dtype=bool)
    at = np.flatnonzero(hit)
    take = pa.array(at, type=pa.int64())
    rows = pa.array(parts["row"][at], type=pa.int64())

    sub = matrix[at]
    _, cols = np.nonzero(sub)
    offsets = np.concatenate([[0], np.cumsum(sub.sum(axis=1))]).astype(np.int32)
    reasons = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(np.array(names, dtype=object)[cols], pa.string())
    )

    avg = parts["avg"][at]
    on_scale = parts["on_scale"][at]
    overall = parts["overall"][at]
    suggested = np.clip(np.floor(on_scale + 0.5), 1, 10)
    if "score10_low_rating" in masks:
        suggested = np.where(masks["score10_low_rating"][at], 1.0, suggested)
    flat = parts["flat"]
    responses = pc.struct_field(flat, "response").take(take)

    def column(name: str) -> pa.Array:
        return table.column(name).combine_chunks().take(rows)

    def floats(values: np.ndarray) -> pa.Array:
        return pa.array(values, type=pa.float64(), from_pandas=True)

    return pa.Table.from_arrays(
        [
            column("row_index"),
            column("prompt_id"),
            column("source"),
            column("instruction"),
            pa.array(parts["index"][at], type=pa.int64()),
            pc.struct_field(flat, "model").take(take),
            responses,
            pc.struct_field(flat, "critique").take(take),
            floats(overall),
            floats(avg),
            floats(on_scale),
            floats(overall - on_scale),
            floats(parts["negativity"][at]),
            reasons,
            floats(suggested),
            _sha256(responses),
        ],
        schema=FLAGGED_SCHEMA,
    )


def flag_counts(table: pa.Table, flagged: pa.Table) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """Counts of one batch: (the ``flag`` report section: completions seen and flagged, flags by reason;
    flags by source, then reason)."""
    lengths, _, _ = list_parts(table.column("completions").combine_chunks())
    counts: dict[str, Any] = {"completions": int(lengths.sum()), "completions_flagged": flagged.num_rows}
    by_source: dict[str, dict[str, int]] = {}
    if flagged.num_rows:
        reasons = flagged.column("reasons").combine_chunks()
        sources = flagged.column("source").combine_chunks().take(pc.list_parent_indices(reasons))
        exploded = pa.table({"reason": pc.list_flatten(reasons), "source": pc.fill_null(sources, "unknown")})
        grouped = exploded.group_by(["source", "reason"]).aggregate([([], "count_all")])
        by_reason: dict[str, int] = {}
        for source, reason, n in zip(
            grouped.column("source").to_pylist(),
            grouped.column("reason").to_pylist(),
            grouped.column("count_all").to_pylist(),
            strict=True,
        ):
            by_source.setdefault(source, {})[reason] = n
            by_reason[reason] = by_reason.get(reason, 0) + n
        counts["by_reason"] = dict(sorted(by_reason.items()))
    return counts, {s: dict(sorted(r.items())) for s, r in sorted(by_source.items())}


def check_critique(source: Any, opts: FlagOptions) -> None:
    """Fail before any work when the negative_critique rule is on and the input has no critique field."""
    if (
        "negative_critique" in opts.rules
        and source.layout is not None
        and "critique" not in source.layout.completion_fields
    ):
        raise SchemaError(
            f"{source.origin}: field 'completions[].critique' is missing; the negative_critique rule needs it "
            f"(or leave it out: --rules {','.join(r for r in opts.rules if r != 'negative_critique')})"
        )


def flag_outcomes(table: pa.Table, flagged: pa.Table) -> pa.Table:
    """One row per input row: reason null when the row has flagged completions, ``n_out`` = its flagged
    completions (so ``rows_out`` counts flagged completions); ``not_flagged`` or ``invalid_row`` otherwise."""
    position = pc.index_in(flagged.column("row_index"), value_set=table.column("row_index").combine_chunks())
    n_flags = np.bincount(position.to_numpy(zero_copy_only=False), minlength=table.num_rows).astype(np.int64)
    reason = np.where(invalid_rows(table), "invalid_row", np.where(n_flags > 0, None, "not_flagged"))
    return outcomes(table.column("source"), reason.tolist(), n_flags)


class FlagStep(Step):
    """Flags suspicious completions of canonical batches (:func:`flag_table`; section ``flag``).

    By default the flagged completions are a side output (``flags``) and the batch goes on unchanged, as in a
    recipe. With ``output=True`` (the ``flag`` job) they are the pipeline's output: the batch given on is the
    flagged table, and every row is finished here (its flagged completions counted as its output, a row without
    any as ``not_flagged``), with the flags counted by source too.
    """

    name = "flag"
    reads = ("row_index", "prompt_id", "source", "instruction", "completions", "completions.critique")
    side_outputs = {"flags": FLAGGED_SCHEMA}

    def __init__(self, options: FlagOptions | None = None, *, output: bool = False) -> None:
        self.options = options or FlagOptions()
        self.output = output
        self.schema = FLAGGED_SCHEMA

    def check(self, source: Any) -> None:
        check_critique(source, self.options)

    def process(self, table: pa.Table, start: int) -> StepResult:
        flagged = flag_table(table, self.options)
        counts, by_source = flag_counts(table, flagged)
        if self.output:
            counts["by_source"] = by_source
            return StepResult(flagged, outcomes=flag_outcomes(table, flagged), counts=counts)
        return StepResult(table, side={"flags": flagged}, counts=counts)

    def finish(self, stats: dict[str, Any]) -> Finish:
        if self.output:
            return Finish()
        return Finish(counts={"reasons": {r: REASONS[r] for r in self.options.rules}})
