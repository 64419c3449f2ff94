"""Binarize: turn each prompt's rated completions into chosen/rejected pairs.

Strategies (``BinarizeOptions.strategy``). "Scorable" means the completion has a score under the chosen score
source; the others take no part. "First" means first in the row's list order.

- ``notus`` (default; argilla/ultrafeedback-binarized-preferences): chosen = the highest score, the first on a tie
  for the top; rejected = drawn uniformly at random among the completions that score strictly lower. A row with
  no strictly lower completion gives no pair (reason ``tie``). This is rule (a) of the Notus card's wording.
- ``notus-drawties`` (rule (b) of the same wording): chosen as ``notus``; rejected = drawn uniformly at random
  among ALL the other scorable completions (the same seed-keyed draw), and the pair is dropped when the drawn one
  scores the same as the chosen (reason ``tie``). A row whose chosen has ``t`` tie partners among ``k`` other
  scorable completions loses its pair with probability ``t/k``; a row with no strictly lower completion never
  gives one (as with ``notus``). The same pairs as ``zephyr --score avg-rating --drop-ties``. With ``min_margin``
  above 0 no tie is left to draw, and it pairs as ``notus`` does.
- ``zephyr`` (HuggingFaceH4/ultrafeedback_binarized, the fixed script; scores by overall_score by default):
  chosen = the highest score, the first on a tie; rejected = drawn uniformly at random among all the other
  scorable completions, so ties are kept; with ``drop_ties`` a pair whose rejected scores the same as the chosen
  is dropped after the draw (reason ``tie``), as H4 did.
- ``best-vs-worst``: chosen as above; rejected = the lowest score among the strictly lower ones, the first on a
  tie for the bottom. No randomness.
- ``best-vs-all``: chosen as above; one pair with every strictly lower completion, in list order (1-3 pairs a
  prompt with 4 completions: the multi-binarized variant of the Notus data).
- ``all-pairs``: every pair of scorable completions with different scores, the higher one chosen; pairs in list
  order of the chosen, then of the rejected.

Filters apply to the candidates before any draw, so a filter never drops a row that has a candidate left:
``min_chosen_score`` (the chosen must score at least this), ``min_margin`` (chosen minus rejected at least this,
up to 1e-9), ``drop_identical_text`` (a candidate with the same text as the chosen one, ignoring surrounding
white space, is no candidate). A row that gives no pair is counted with the first reason that applies:
``invalid_row``, ``too_few_completions``, ``below_min_chosen_score``, ``tie``, ``below_margin``, ``identical_text``,
``length_ratio``.

Length ratio (``max_length_ratio`` R, default off): a pair whose chosen response is more than R times as long
(characters) as its rejected one is not formed: ``len(chosen) > R * len(rejected)`` (so an empty rejected one is
too short for any non-empty chosen). ``best-vs-all`` and ``all-pairs`` leave such pairs out; ``best-vs-worst``
takes the lowest-scoring candidate that passes; the drawing strategies draw as without the option, and where the
drawn one fails, the rejected is the next candidate that passes, in list order, wrapping around. A pair that
passes is thus the same pair as without the option. A row left with no such candidate is counted as
``length_ratio``.

Multi-turn prompts: where the batch has a ``prompt_messages`` column (the conversation up to the last user turn;
see :mod:`notus_data.sources`), each pair carries its row's turns into the message-list formats.

Randomness: each row's draw is a number ``u`` in [0, 1) that hashes the seed and the first 64 bits of the
prompt_id (:func:`draw_uniform`); the rejected is the ``floor(u * k)``-th of the ``k`` candidates in list order. It
depends on the seed and the prompt alone, never on batch size, row order or the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.draws import draw_uniform
from notus_data.errors import OptionError, check_numbers, number_list
from notus_data.formats import FORMATS, SCHEMAS, build, kto_order
from notus_data.length import LengthStats, text_lengths
from notus_data.schema import ASPECTS, column_array, invalid_rows, list_parts
from notus_data.sources.helpsteer2 import PRESETS
from notus_data.steps.base import Finish, Step, StepResult, outcomes
from notus_data.steps.score import SCORE_SOURCES, ScoreOptions

STRATEGIES = ("notus", "notus-drawties", "zephyr", "best-vs-worst", "best-vs-all", "all-pairs")
#: Strategies that draw the rejected among all other completions (ties included) instead of the strictly lower.
DRAW_AMONG_ALL = ("zephyr", "notus-drawties")
#: The score source each strategy ranks by unless ``score`` is given.
DEFAULT_SCORE = {"zephyr": "overall-score"}
MARGIN_TOLERANCE = 1e-9
OUTCOME_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("reason", pa.string()),
        ("n_pairs", pa.int64()),
        ("chosen_index", pa.int64()),
    ]
)


@dataclass
class BinarizeOptions:
    """How pairs are made. Every field is also a ``notus-data binarize`` option of the same name."""

    strategy: str = field(
        default="notus", metadata={"help": "pairing rule (see README)", "choices": STRATEGIES}
    )
    score: str | None = field(
        default=None,
        metadata={
            "help": "score source (default: avg-rating; overall-score for zephyr)",
            "choices": SCORE_SOURCES,
        },
    )
    aspects: tuple[str, ...] = field(
        default=ASPECTS, metadata={"help": "aspects averaged by avg-rating, comma-separated"}
    )
    weights: tuple[float, ...] | None = field(
        default=None,
        metadata={
            "help": "one weight per aspect, comma-separated (default: equal), or a preset: nvidia-340b (HelpSteer2)"
        },
    )
    format: str = field(default="notus", metadata={"help": "output columns", "choices": FORMATS})
    min_margin: float = field(
        default=0.0, metadata={"help": "least score difference between chosen and rejected"}
    )
    min_chosen_score: float | None = field(
        default=None, metadata={"help": "least score of the chosen completion"}
    )
    drop_identical_text: bool = field(
        default=False, metadata={"help": "never pair a completion with one of the same text"}
    )
    drop_ties: bool = field(
        default=False, metadata={"help": "zephyr: drop a pair whose rejected scores the same as the chosen"}
    )
    max_length_ratio: float | None = field(
        default=None,
        metadata={
            "help": "form no pair whose chosen is more than this many times as long (characters) as its rejected"
        },
    )
    seed: int = field(default=42, metadata={"help": "seed of the random draws (with the prompt_id)"})

    def __post_init__(self) -> None:
        if isinstance(self.weights, str) and self.weights.strip() in PRESETS:  # a named preset sets both
            self.aspects, self.weights = PRESETS[self.weights.strip()]
        self.weights = number_list(self.weights, "weights")
        check_numbers(self)
        if self.strategy not in STRATEGIES:
            raise OptionError(
                f"strategy: {self.strategy!r} is not a strategy; choose one of {', '.join(STRATEGIES)}"
            )
        if self.format not in FORMATS:
            raise OptionError(
                f"format: {self.format!r} is not an output format; choose one of {', '.join(FORMATS)}"
            )
        if self.score is None:
            self.score = DEFAULT_SCORE.get(self.strategy, "avg-rating")
        if self.score not in SCORE_SOURCES:
            raise OptionError(
                f"score: {self.score!r} is not a score source; choose one of {', '.join(SCORE_SOURCES)}"
            )
        if self.min_margin is None or self.min_margin < 0:
            raise OptionError(f"min_margin: {self.min_margin} must be >= 0")
        if self.max_length_ratio is not None and self.max_length_ratio <= 0:
            raise OptionError(
                f"max_length_ratio: {self.max_length_ratio} must be > 0 (e.g. 2: chosen at most twice as long)"
            )
        self.seed = int(self.seed)
        self.score_options()  # validates aspects and weights

    def score_options(self) -> ScoreOptions:
        return ScoreOptions(score=self.score, aspects=self.aspects, weights=self.weights)


def _padded(table: pa.Table, name: str, lengths: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """A list<double> column as an [n_rows, width] matrix, NaN for null and padding."""
    _, _, flat = list_parts(column_array(table, name))
    values = flat.to_numpy(zero_copy_only=False).astype(np.float64)
    return _padded_values(values, lengths, starts, width, np.nan)


def _padded_values(
    values: np.ndarray, lengths: np.ndarray, starts: np.ndarray, width: int, fill: float
) -> np.ndarray:
    """Flat per-completion values as an [n_rows, width] matrix, ``fill`` for padding."""
    out = np.full((len(lengths), width), fill, dtype=values.dtype if fill == 0 else np.float64)
    cols = np.arange(width)
    inside = cols[None, :] < lengths[:, None]
    out[inside] = values[(starts[:, None] + cols[None, :])[inside]]
    return out


def _same_text(responses: pa.Array, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether the responses at flat positions ``left`` and ``right`` are the same text (trimmed)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    trimmed = pc.utf8_trim_whitespace(responses)
    equal = pc.equal(trimmed.take(pa.array(left)), trimmed.take(pa.array(right)))
    return pc.fill_null(equal, False).to_numpy(zero_copy_only=False)


class _Reasons:
    """The first reason that applies to each row (null while the row may still give pairs)."""

    def __init__(self, n: int) -> None:
        self.values = np.full(n, None, dtype=object)

    def mark(self, mask: np.ndarray, reason: str) -> None:
        self.values[mask & (self.values == None)] = reason  # noqa: E711  (elementwise comparison)

    @property
    def open(self) -> np.ndarray:
        return self.values == None  # noqa: E711


def _pick(candidates: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column of the floor(u*k)-th True of each row of ``candidates`` (k = its number of Trues)."""
    k = candidates.sum(axis=1)
    r = np.minimum(np.floor(u * k), np.maximum(k - 1, 0))
    return np.argmax(np.cumsum(candidates, axis=1) > r[:, None], axis=1)


def _next_passing(passing: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Column of each row's first True of ``passing`` at or after ``drawn``, wrapping around to the start."""
    after = passing & (np.arange(passing.shape[1])[None, :] >= drawn[:, None])
    return np.where(after.any(axis=1), after.argmax(axis=1), passing.argmax(axis=1))


def pair_indices(
    scores: np.ndarray,
    broken: np.ndarray,
    u: np.ndarray,
    options: BinarizeOptions,
    same_text: Any = None,
    text_length: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairing rules on a score matrix; the kernel of :func:`binarize_table`.

    Args:
        scores: [rows, width] scores, NaN where a completion is unscorable or absent.
        broken: rows that are invalid as a whole.
        u: one uniform number per row (see :func:`draw_uniform`).
        same_text: ``f(rows, cols_a, cols_b) -> bool array`` telling whether two completions have the same text
            (needed only with ``drop_identical_text``).
        text_length: [rows, width] characters of each completion's text (needed only with ``max_length_ratio``).
    Returns:
        (pair_row, pair_chosen, pair_rejected, reasons): the pairs as row and column indices, in row order, and
        the reason each row gave no pair (None where it gave pairs).
    """
    n, width = scores.shape
    reasons = _Reasons(n)
    scorable = ~np.isnan(scores)
    ranked = np.where(scorable, scores, -np.inf)
    chosen = ranked.argmax(axis=1) if width else np.zeros(n, dtype=np.int64)
    top = ranked.max(axis=1) if width else np.full(n, -np.inf)
    reasons.mark(broken, "invalid_row")
    reasons.mark(scorable.sum(axis=1) < 2, "too_few_completions")
    if width == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, reasons.values
    if options.min_chosen_score is not None:
        reasons.mark(top < options.min_chosen_score, "below_min_chosen_score")
    margin = options.min_margin - MARGIN_TOLERANCE
    ratio = options.max_length_ratio

    if options.strategy == "all-pairs":
        hi, lo = scores[:, :, None], scores[:, None, :]
        pairs = scorable[:, :, None] & scorable[:, None, :] & (hi > lo)
        if options.min_chosen_score is not None:
            pairs &= hi >= options.min_chosen_score
        reasons.mark(~pairs.any(axis=(1, 2)), "tie")
        if options.min_margin > 0:
            pairs &= hi - lo >= margin
            reasons.mark(~pairs.any(axis=(1, 2)), "below_margin")
        if options.drop_identical_text and pairs.any():
            rows, a, b = np.nonzero(pairs)
            same = same_text(rows, a, b)
            pairs[rows[same], a[same], b[same]] = False
            reasons.mark(~pairs.any(axis=(1, 2)), "identical_text")
        if ratio is not None:
            pairs &= ~(text_length[:, :, None] > ratio * text_length[:, None, :])
            reasons.mark(~pairs.any(axis=(1, 2)), "length_ratio")
        pairs &= reasons.open[:, None, None]
        rows, a, b = np.nonzero(pairs)
        return rows, a, b, reasons.values

    cols = np.arange(width)[None, :]
    if options.strategy in DRAW_AMONG_ALL:
        candidates = scorable & (cols != chosen[:, None])
    else:
        candidates = scorable & (scores < top[:, None])
    reasons.mark(~candidates.any(axis=1), "tie")
    if options.min_margin > 0:
        candidates &= top[:, None] - scores >= margin
        reasons.mark(~candidates.any(axis=1), "below_margin")
    if options.drop_identical_text and candidates.any():
        rows, c = np.nonzero(candidates)
        same = same_text(rows, chosen[rows], c)
        candidates[rows[same], c[same]] = False
        reasons.mark(~candidates.any(axis=1), "identical_text")
    candidates &= reasons.open[:, None]
    passing = candidates
    if ratio is not None:
        chosen_length = np.take_along_axis(text_length, chosen[:, None], axis=1)
        passing = candidates & ~(chosen_length > ratio * text_length)
        reasons.mark(~passing.any(axis=1), "length_ratio")
        passing &= reasons.open[:, None]

    if options.strategy == "best-vs-all":
        rows, rejected = np.nonzero(passing)
        return rows, chosen[rows], rejected, reasons.values
    if options.strategy == "best-vs-worst":
        rejected = np.where(passing, scores, np.inf).argmin(axis=1)
    else:
        rejected = _pick(candidates, u)  # the draw as without max_length_ratio, then the next that passes
        if ratio is not None:
            rejected = _next_passing(passing, rejected)
    if options.strategy == "notus-drawties" or (options.strategy == "zephyr" and options.drop_ties):
        tied = reasons.open & (scores[np.arange(n), rejected] == top)
        reasons.mark(tied, "tie")
    rows = np.flatnonzero(reasons.open)
    return rows, chosen[rows], rejected[rows], reasons.values


def binarize_table(scored: pa.Table, options: BinarizeOptions | None = None) -> tuple[pa.Table, pa.Table]:
    """Pairs of one scored canonical batch (see :func:`notus_data.steps.score.score_table`).

    Returns ``(pairs, outcomes)``: the pairs in the output format, in input order; and one outcome row per input
    row (row_index, prompt_id, source, reason (null when the row gave pairs), n_pairs (the rows it gave: its
    pairs; in ``kto`` its completion rows), chosen_index).
    """
    pairs, rows, _ = _binarize(scored, options or BinarizeOptions())
    return pairs, rows


def _binarize(scored: pa.Table, options: BinarizeOptions) -> tuple[pa.Table, pa.Table, LengthStats]:
    """:func:`binarize_table`, and the lengths of the pairs' chosen and rejected responses."""
    n = scored.num_rows
    completions = column_array(scored, "completions")
    lengths, starts, flat = list_parts(completions)
    width = int(lengths.max()) if n else 0
    scores = _padded(scored, "score", lengths, starts, width)
    broken = invalid_rows(scored)
    prompt_ids = column_array(scored, "prompt_id")
    drawn = options.strategy in ("notus", *DRAW_AMONG_ALL)
    u = draw_uniform(prompt_ids, options.seed) if drawn else np.zeros(n)
    responses = pc.struct_field(flat, "response")

    def same_text(rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _same_text(responses, starts[rows] + a, starts[rows] + b)

    text_length = None
    if options.max_length_ratio is not None:
        text_length = _padded_values(text_lengths(responses), lengths, starts, width, 0)
    rows, chosen, rejected, reasons = pair_indices(scores, broken, u, options, same_text, text_length)
    chosen_flat = pa.array(starts[rows] + chosen)
    rejected_flat = pa.array(starts[rows] + rejected)
    row_take = pa.array(rows, type=pa.int64())
    _, _, avg = list_parts(column_array(scored, "avg_rating"))
    _, _, score = list_parts(column_array(scored, "score"))
    models = pc.struct_field(flat, "model")
    pair_source = column_array(scored, "source").take(row_take)
    length_stats = LengthStats()
    length_stats.add(pair_source, responses.take(chosen_flat), responses.take(rejected_flat))
    messages = (
        column_array(scored, "prompt_messages").take(row_take)
        if "prompt_messages" in scored.column_names
        else None
    )
    pairs = build(
        options.format,
        source=pair_source,
        prompt=column_array(scored, "instruction").take(row_take),
        prompt_id=prompt_ids.take(row_take),
        chosen=responses.take(chosen_flat),
        rejected=responses.take(rejected_flat),
        chosen_model=models.take(chosen_flat),
        rejected_model=models.take(rejected_flat),
        chosen_avg_rating=avg.take(chosen_flat),
        rejected_avg_rating=avg.take(rejected_flat),
        chosen_score=score.take(chosen_flat),
        rejected_score=score.take(rejected_flat),
        prompt_messages=messages,
        group=rows,
    )
    n_pairs = np.bincount(rows, minlength=n).astype(np.int64)
    if options.format == "kto":  # rows written: the pair's chosen and rejected, each (prompt, text) once
        kept = kto_order(rows, responses.take(chosen_flat), responses.take(rejected_flat))
        n_out = np.bincount(rows[kept // 2], minlength=n).astype(np.int64)
    else:
        n_out = n_pairs
    first_chosen = np.full(n, -1, dtype=np.int64)
    if len(rows):
        first = np.concatenate([[True], rows[1:] != rows[:-1]])
        first_chosen[rows[first]] = chosen[first]
    outcomes = pa.Table.from_arrays(
        [
            column_array(scored, "row_index"),
            prompt_ids,
            column_array(scored, "source"),
            pa.array(reasons, type=pa.string()),
            pa.array(n_out),
            pa.array(first_chosen, mask=first_chosen < 0),
        ],
        schema=OUTCOME_SCHEMA,
    )
    return pairs, outcomes, length_stats


class BinarizeStep(Step):
    """Pairs from scored canonical batches (:func:`binarize_table`): the batch given on is the pairs, in the output
    format; every row is finished here (its pairs counted, or the reason it gave none)."""

    name = "binarize"
    reads = ("completions", "score", "avg_rating", "prompt_id", "source", "instruction")

    def __init__(self, options: BinarizeOptions | None = None) -> None:
        self.options = options or BinarizeOptions()
        self.schema = SCHEMAS[self.options.format]

    def process(self, table: pa.Table, start: int) -> StepResult:
        pairs, rows, lengths = _binarize(table, self.options)
        done = outcomes(rows.column("source"), rows.column("reason"), rows.column("n_pairs"))
        return StepResult(pairs, outcomes=done, stats={"length": lengths})

    def finish(self, stats: dict[str, Any]) -> Finish:
        """The length section of the report (:mod:`notus_data.length`)."""
        return Finish(counts={"length": stats.get("length", LengthStats()).to_dict()})
