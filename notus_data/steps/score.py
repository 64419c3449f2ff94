"""The score step: one number per completion, the one the binarizer ranks by.

Score sources (``ScoreOptions.score``):

- ``avg-rating``: the mean of the aspect ratings (default: all four aspects, equal weights), skipping "N/A" and
  missing ratings, never rounded (3.6666... stays). The Notus rule.
- ``overall-score``: the critique's ``overall_score`` (1-10). The Zephyr rule; carries the critique-score bug in
  revisions before the fix.
- ``fine-grained-score``: the data set's own ``fine-grained_score``; where the input has no such field at all, the
  loader recomputes it as the mean of all four aspect ratings (see :mod:`notus_data.schema`).
- ``source-score``: the score the input's source format gives (``source_score``, see :mod:`notus_data.sources`:
  HelpSteer2's mean rating, Nectar's ``8 - rank``, a reward-model score, ...); the only score of those sources,
  and their ``avg_rating`` too.
- ``human``: the reviewers' ranking of a prompt's completions (the ``human_rank`` column the review decisions
  step adds from a prompt-level review's ranking question; rank 1 = best, the mean over reviewers), as
  ``completions + 1 - rank``. A prompt whose completions are not all ranked falls back to ``avg-rating`` for all
  its completions (counted as ``human_fallback_prompts``; ``human_ranked_prompts`` the others).

A completion with no usable score (no usable rating, a null score, a null response) gets a null score and takes no
part in pairing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError, SchemaError, check_numbers, number_list
from notus_data.schema import ASPECTS, column_array, list_parts
from notus_data.steps.base import Step, StepResult

SCORE_SOURCES = ("avg-rating", "overall-score", "fine-grained-score", "source-score", "human")


@dataclass
class ScoreOptions:
    """How each completion is scored."""

    score: str = field(
        default="avg-rating",
        metadata={
            "help": "score source: avg-rating (mean of the aspect ratings), overall-score, fine-grained-score, "
            "human (the review's ranking, avg-rating where a prompt has none)"
        },
    )
    aspects: tuple[str, ...] = field(
        default=ASPECTS,
        metadata={"help": "aspects averaged by avg-rating (comma-separated): " + ", ".join(ASPECTS)},
    )
    weights: tuple[float, ...] | None = field(
        default=None,
        metadata={"help": "one weight per aspect for avg-rating, in the order of --aspects (default: equal)"},
    )

    def __post_init__(self) -> None:
        if isinstance(self.aspects, str):
            self.aspects = tuple(a.strip() for a in self.aspects.split(",") if a.strip())
        self.aspects = tuple(self.aspects)
        self.weights = number_list(self.weights, "weights")
        check_numbers(self)
        if self.score not in SCORE_SOURCES:
            raise OptionError(
                f"score: {self.score!r} is not a score source; choose one of {', '.join(SCORE_SOURCES)}"
            )
        if self.score == "source-score":  # the source format reads aspects and weights (HelpSteer2)
            return
        unknown = [a for a in self.aspects if a not in ASPECTS]
        if unknown or not self.aspects:
            raise OptionError(f"aspects: {unknown or 'none'} not usable; choose from {', '.join(ASPECTS)}")
        if self.weights is not None:
            if len(self.weights) != len(self.aspects):
                raise OptionError(
                    f"weights: {len(self.weights)} weight(s) for {len(self.aspects)} aspect(s) {self.aspects}; "
                    "give one weight per aspect"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise OptionError(f"weights: {self.weights} must be >= 0 with a positive sum")


def numbers(values: pa.Array) -> np.ndarray:
    """A numeric array as float64 with NaN for null."""
    return values.to_numpy(zero_copy_only=False).astype(np.float64)


def mean_rating(
    flat: pa.StructArray, aspects: tuple[str, ...] = ASPECTS, weights: tuple[float, ...] | None = None
) -> np.ndarray:
    """Weighted mean of the usable aspect ratings of every completion (NaN where none is usable)."""
    ratings = np.column_stack([numbers(pc.struct_field(flat, a)) for a in aspects])
    w = np.ones(len(aspects)) if weights is None else np.asarray(weights, dtype=np.float64)
    usable = ~np.isnan(ratings)
    total = np.where(usable, ratings, 0.0) @ w
    weight = usable @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.where(weight > 0, weight, 1), np.nan)


def as_lists(completions: pa.Array, values: np.ndarray) -> pa.Array:
    """Per-completion values as list<double> aligned with ``completions`` (NaN becomes null)."""
    lengths, _, _ = list_parts(completions)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(values, type=pa.float64(), mask=np.isnan(values))
    )


def score_table(table: pa.Table, options: ScoreOptions | None = None) -> pa.Table:
    """Add ``avg_rating`` and ``score`` (list<double>, aligned with ``completions``) to a canonical table.

    ``avg_rating`` is the mean of all four aspect ratings (what the published sets call the avg rating);
    ``score`` is what the binarizer ranks by, per ``options``. Null means no usable value.

    >>> from notus_data.schema import COMPLETION_TYPE
    >>> c = {"model": "m", "response": "r", "critique": None, "overall_score": 7.0, "fine_grained_score": None,
    ...      "instruction_following": 5.0, "honesty": None, "truthfulness": 4.0, "helpfulness": 4.0}
    >>> t = pa.table({"completions": pa.array([[c]], pa.list_(COMPLETION_TYPE))})
    >>> score_table(t).column("score").to_pylist()
    [[4.333333333333333]]
    """
    options = options or ScoreOptions()
    completions = column_array(table, "completions")
    flat = completions.flatten()
    if options.score == "source-score":
        avg = score = numbers(list_parts(column_array(table, "source_score"))[2])
    else:
        avg = mean_rating(flat)
    if options.score == "source-score":
        pass
    elif options.score == "avg-rating":
        default = options.aspects == ASPECTS and options.weights is None
        score = avg if default else mean_rating(flat, options.aspects, options.weights)
    elif options.score == "overall-score":
        score = numbers(pc.struct_field(flat, "overall_score"))
    elif options.score == "human":
        score = human_scores(table, avg)
    else:
        score = numbers(pc.struct_field(flat, "fine_grained_score"))
    responses_missing = ~pc.is_valid(pc.struct_field(flat, "response")).to_numpy(zero_copy_only=False)
    if responses_missing.any():
        score = np.where(responses_missing, np.nan, score)
    table = table.drop_columns([name for name in ("avg_rating", "score") if name in table.column_names])
    return table.append_column("avg_rating", as_lists(completions, avg)).append_column(
        "score", as_lists(completions, score)
    )


def human_ranked(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(per row: every completion has a ``human_rank``; the flat ranks, NaN where none)."""
    lengths, _, _ = list_parts(column_array(table, "completions"))
    if "human_rank" not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool), np.full(int(lengths.sum()), np.nan)
    rank = numbers(list_parts(column_array(table, "human_rank"))[2])
    row = np.repeat(np.arange(table.num_rows), lengths)
    unranked = np.bincount(row, weights=np.isnan(rank), minlength=table.num_rows)
    return (unranked == 0) & (lengths > 0), rank


def human_scores(table: pa.Table, fallback: np.ndarray) -> np.ndarray:
    """``completions + 1 - human_rank`` where every completion of the prompt is ranked, else ``fallback``."""
    lengths, _, _ = list_parts(column_array(table, "completions"))
    ranked, rank = human_ranked(table)
    use = np.repeat(ranked, lengths)
    return np.where(use, np.repeat(lengths, lengths) + 1 - np.where(use, rank, 0), fallback)


def score_counts(scored: pa.Table) -> dict[str, int]:
    """Counts for the report's ``score`` section: completions, and those without a usable score."""
    _, _, score = list_parts(column_array(scored, "score"))
    return {"completions": len(score), "unscorable_completions": score.null_count}


class ScoreStep(Step):
    """Adds ``avg_rating`` and ``score`` to canonical batches (:func:`score_table`); counts the completions and
    those without a usable score (section ``score``)."""

    name = "score"
    reads = ("completions",)
    adds = ("avg_rating", "score")

    def __init__(self, options: ScoreOptions | None = None) -> None:
        self.options = options or ScoreOptions()

    def check(self, source: Any) -> None:
        check_score_source(source, self.options.score)

    def process(self, table: pa.Table, start: int) -> StepResult:
        scored = score_table(table, self.options)
        counts = score_counts(scored)
        if self.options.score == "human":
            ranked = int(human_ranked(table)[0].sum())
            counts.update(human_ranked_prompts=ranked, human_fallback_prompts=table.num_rows - ranked)
        return StepResult(scored, counts=counts)


def check_score_source(source: Any, score: str) -> None:
    """Fail before any work if the input lacks what the score source reads."""
    fmt = getattr(source, "format", None)
    if fmt is not None and score != "source-score":
        raise SchemaError(
            f"{source.origin}: the {fmt.name} source gives one score per response (score=source-score); "
            f"score={score} reads UltraFeedback's ratings, which it has not"
        )
    if fmt is None and score == "source-score" and getattr(source, "layout", None) is not None:
        raise SchemaError(
            f"{source.origin}: score=source-score is the score of a source format (helpsteer2, nectar, ...); "
            "UltraFeedback data is scored by avg-rating, overall-score or fine-grained-score"
        )
    layout = getattr(source, "layout", None)
    if layout is None:
        return
    if score == "avg-rating" and not layout.has_ratings:
        raise SchemaError(
            f"{layout.origin}: field 'completions[].annotations' holds none of the aspects {', '.join(ASPECTS)}; "
            "score=avg-rating needs them (or use --score overall-score)"
        )
    if score == "overall-score" and "overall_score" not in layout.completion_fields:
        raise SchemaError(
            f"{layout.origin}: field 'completions[].overall_score' is missing; score=overall-score needs it "
            "(or use --score avg-rating)"
        )
