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
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.engine import EngineOptions
from notus_data.errors import OptionError, SchemaError
from notus_data.io import (
    DEFAULT_BATCH_SIZE,
    AtomicWriter,
    LoadOptions,
    guard_outputs,
    load_ultrafeedback,
    report_path,
)
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.schema import invalid_rows, list_parts
from notus_data.scoring import score_table

#: reason code -> what it means (the order of ``reasons`` in the output).
REASONS = {
    "score10_low_rating": "overall_score 10 with mean rating <= 2: the score should be 1 (the data set's fix)",
    "score10_mid_rating": "overall_score 10 with mean rating in (2, 4]: needs a new judgement",
    "score_rating_disagree": "overall_score and mean rating (on one 1-10 scale) far apart",
    "negative_critique": "strongly negative critique with a high overall_score",
    "chosen_mismatch": "chosen by overall_score but not by mean rating (per prompt)",
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

# --- the critique lexicon ----------------------------------------------------------------------------------
# GPT-4 critiques in UltraFeedback are short reviews ("Your answer is accurate and helpful, but ..."). Strong
# negatives count 2, mild ones 1, positives 1; a negated positive ("not accurate") is a strong negative, a
# negated negative ("no errors") a positive. RE2 patterns, matched case-insensitively by Arrow (vectorised).
_POSITIVE_WORDS = (
    r"accurate(ly)?|correct(ly)?|clear(ly)?|helpful|relevant|precise(ly)?|informative|thorough(ly)?|"
    r"comprehensive|concise|detailed|excellent|great|good|perfect(ly)?|impressive|well|engaging|insightful"
)
_STRONG_NEGATIVE = (
    r"\b(incorrect(ly)?|wrong(ly)?|mislead(ing|s)?|inaccura(te|tely|cy|cies)|fabricat\w*|hallucinat\w*|"
    r"off[- ]topic|irrelevant|nonsens\w*|unhelpful|untruthful|fails?|failed|failure|harmful|made[- ]up|"
    r"contradict\w*|unrelated|erroneous|invalid|false|untrue|"
    r"(does|do|did) ?(not|n't) (address|answer|follow|meet|provide|make sense|fulfill|respond)\w*)\b"
)
_NEGATED_POSITIVE = r"\b(not|n't|never|hardly|neither|nor)\s+(\w+\s+)?(" + _POSITIVE_WORDS + r")\b"
_MILD_NEGATIVE = (
    r"\b(lacks?|lacking|missing|misses|vague|unclear|confusing|errors?|mistakes?|incomplete|not fully|"
    r"partially|unfortunately|poor(ly)?|weak|limited|repetitive|irrelevan\w*|superficial|"
    r"could (be|have been) (improved|better|more)|needs? (improvement|more))\b"
)
_POSITIVE = (
    r"\b("
    + _POSITIVE_WORDS
    + r"|well[- ](written|organized|structured|explained|done)|fully (aligns?|addresses|"
    r"meets)|directly addresses|follows the instructions?)\b"
)
_NEGATED_NEGATIVE = (
    r"\b(no|without|free (of|from)|not)\s+(any\s+)?(major\s+|significant\s+|obvious\s+|factual\s+)?"
    r"(errors?|mistakes?|inaccurac\w+|issues?|problems?|wrong|misleading|irrelevant)\b"
)


def _count(text: pa.Array, pattern: str) -> np.ndarray:
    counts = pc.count_substring_regex(text, pattern, ignore_case=True)
    return pc.fill_null(counts, 0).to_numpy(zero_copy_only=False).astype(np.float64)


def critique_scores(critiques: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(negativity in [-1, 1], weighted count of negative wording) of each critique; see :func:`critique_negativity`."""
    negated_positive = _count(critiques, _NEGATED_POSITIVE)
    strong = _count(critiques, _STRONG_NEGATIVE) + negated_positive
    mild = _count(critiques, _MILD_NEGATIVE)
    negated_negative = _count(critiques, _NEGATED_NEGATIVE)
    positive = _count(critiques, _POSITIVE)
    weight = 2 * strong + mild
    negative = np.maximum(weight - negated_negative, 0)
    positive = np.maximum(positive - negated_positive, 0) + negated_negative
    total = negative + positive
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, (negative - positive) / np.where(total > 0, total, 1), 0.0)
    valid = pc.is_valid(critiques).to_numpy(zero_copy_only=False)
    return np.where(valid, score, np.nan), weight


def critique_negativity(critiques: pa.Array) -> np.ndarray:
    """How negative each critique reads, in [-1, 1] (NaN for a null critique, 0 when no lexicon word occurs).

    ``(negative - positive) / (negative + positive)``, with strong negatives weighing 2.

    >>> critique_negativity(pa.array(["The answer is incorrect and misleading.", "Accurate and clear.", None]))
    array([ 1., -1., nan])
    """
    return critique_scores(critiques)[0]


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
    ``overall``, ``avg``, ``on_scale``, ``negativity`` (float arrays, NaN where absent), ``flat`` (the completion
    structs) and ``masks`` (reason -> bool array).
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
    negativity, negative_weight = critique_scores(pc.struct_field(flat, "critique"))

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
        if "negative_critique" in options.rules:
            masks["negative_critique"] = (
                live
                & (overall >= options.high_score)
                & (negativity >= options.critique_negativity)
                & (negative_weight >= options.min_negative_words)
            )
        if "chosen_mismatch" in options.rules:
            by_score = np.where(both, overall, -np.inf)
            by_rating = np.where(both, avg, -np.inf)
            top_score = both & (by_score == np.repeat(_segment_max(by_score, lengths), lengths))
            top_rating = both & (by_rating == np.repeat(_segment_max(by_rating, lengths), lengths))
            rivals = _segment_sum(both, lengths) >= 2
            agree = _segment_sum(top_score & top_rating, lengths) > 0
            masks["chosen_mismatch"] = top_score & np.repeat(rivals & ~agree, lengths)
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

    ``table`` may carry ``avg_rating`` from :func:`notus_data.scoring.score_table`; without it the mean of the four
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


def flag_counts(table: pa.Table, flagged: pa.Table) -> tuple[dict[str, Any], dict[tuple[str, str], int]]:
    """Counts of one batch: (the ``flag`` report section: completions seen and flagged, flags by reason;
    flags by (source, reason))."""
    lengths, _, _ = list_parts(table.column("completions").combine_chunks())
    counts: dict[str, Any] = {"completions": int(lengths.sum()), "completions_flagged": flagged.num_rows}
    by_source: dict[tuple[str, str], int] = {}
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
            by_source[(source, reason)] = n
            by_reason[reason] = by_reason.get(reason, 0) + n
        counts["by_reason"] = by_reason
    return counts, by_source


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
    """One row per input row for :meth:`Report.add_outcomes`: reason null when the row has flagged completions,
    ``n_pairs`` = its flagged completions (so ``rows_out`` counts flagged completions)."""
    position = pc.index_in(flagged.column("row_index"), value_set=table.column("row_index").combine_chunks())
    n_flags = np.bincount(position.to_numpy(zero_copy_only=False), minlength=table.num_rows).astype(np.int64)
    reason = np.where(invalid_rows(table), "invalid_row", np.where(n_flags > 0, None, "not_flagged"))
    return pa.table(
        {
            "source": table.column("source"),
            "reason": pa.array(reason.tolist(), pa.string()),
            "n_pairs": pa.array(n_flags),
        }
    )


def flag(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    **options: Any,
) -> Report:
    """Flag the completions of UltraFeedback-shaped ``input`` and write them to ``output``; return the report.

    ``output`` is .parquet, .jsonl or a folder (``save_to_disk``), written atomically; the report (prompts in,
    prompts with flags, flagged completions by reason and by source) goes beside it as ``OUTPUT.report.json``.
    ``options`` are the fields of :class:`FlagOptions`; ``engine="ray"`` runs the step on Ray with the same output.
    """
    LoadOptions(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    EngineOptions(engine=engine, ray_address=ray_address)
    opts = FlagOptions(**options)
    guard_outputs("flag", [output, report_path(output)], [input])
    if engine == "ray":
        from notus_data.engine.ray import flag_ray

        return flag_ray(
            input,
            output,
            opts,
            ray_address=ray_address,
            revision=revision,
            split=split,
            batch_size=batch_size,
        )
    started = time.perf_counter()
    source = load_ultrafeedback(
        input, revision=revision, split=split, streaming=streaming, with_critique=True
    )
    check_critique(source, opts)
    report = Report("flag")
    report.info.update(source.describe())
    report.info["options"] = asdict(opts)
    report.info["reasons"] = {r: REASONS[r] for r in opts.rules}
    by_source: dict[tuple[str, str], int] = {}
    with (
        AtomicWriter(output, FLAGGED_SCHEMA, command="flag") as writer,
        progress_bar("flag", source.num_rows, progress) as bar,
    ):
        for batch in source.iter_batches(batch_size):
            flagged = flag_table(batch, opts)
            writer.write(flagged)
            report.add_outcomes(flag_outcomes(batch, flagged))
            counts, pairs = flag_counts(batch, flagged)
            report.add_step("flag", counts)
            for key, n in pairs.items():
                by_source[key] = by_source.get(key, 0) + n
            bar.advance(batch.num_rows)
    section = report.steps.setdefault("flag", {})
    section["by_source"] = {
        s: {r: n for (s2, r), n in sorted(by_source.items()) if s2 == s}
        for s in sorted({s for s, _ in by_source})
    }
    report.problems = source.problems
    report.check()
    report.info["output"] = str(output)
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.write_json(report_path(output))
    return report
