"""Binarize: turn each prompt's rated completions into chosen/rejected pairs.

Strategies (``BinarizeOptions.strategy``). "Scorable" means the completion has a score under the chosen score
source; the others take no part. "First" means first in the row's list order.

- ``notus`` (default; argilla/ultrafeedback-binarized-preferences): chosen = the highest score, the first on a tie
  for the top; rejected = drawn uniformly at random among the completions that score strictly lower. A row with
  no strictly lower completion gives no pair (reason ``tie``).
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
``invalid_row``, ``too_few_completions``, ``below_min_chosen_score``, ``tie``, ``below_margin``, ``identical_text``.

Randomness: each row's draw is a number ``u`` in [0, 1) that hashes the seed and the first 64 bits of the
prompt_id (:func:`draw_uniform`); the rejected is the ``floor(u * k)``-th of the ``k`` candidates in list order. It
depends on the seed and the prompt alone, never on batch size, row order or the number of processes.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.engine import EngineOptions
from notus_data.errors import OptionError, SchemaError
from notus_data.formats import FORMATS, SCHEMAS, build
from notus_data.io import (
    DEFAULT_BATCH_SIZE,
    AtomicWriter,
    LoadOptions,
    guard_outputs,
    load_ultrafeedback,
    report_path,
    sidecar_path,
    write_table,
)
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.schema import ASPECTS, column_array, invalid_rows, list_parts
from notus_data.scoring import SCORE_SOURCES, ScoreOptions, score_counts, score_table

STRATEGIES = ("notus", "zephyr", "best-vs-worst", "best-vs-all", "all-pairs")
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
        metadata={"help": "one weight per aspect for avg-rating, comma-separated (default: equal)"},
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
    seed: int = field(default=42, metadata={"help": "seed of the random draws (with the prompt_id)"})

    def __post_init__(self) -> None:
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
        self.seed = int(self.seed)
        self.score_options()  # validates aspects and weights

    def score_options(self) -> ScoreOptions:
        return ScoreOptions(score=self.score, aspects=self.aspects, weights=self.weights)


_HEX_VALUE = np.zeros(256, dtype=np.uint64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
_HEX_VALUE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_NIBBLE_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a fast, well-mixed 64-bit hash (wraps modulo 2**64)."""
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def prompt_id_bits(prompt_ids: pa.Array) -> np.ndarray:
    """The first 64 bits of each prompt_id (a sha256 hex digest) as uint64; null gives 0."""
    head = pc.utf8_slice_codeunits(pc.fill_null(prompt_ids, "0" * 16), 0, 16)
    head = pc.utf8_rpad(head, 16, "0")  # defensive: ids shorter than 16 characters
    head = head.cast(pa.string())
    offsets = np.frombuffer(head.buffers()[1], dtype=np.int32)[head.offset : head.offset + len(head) + 1]
    data = np.frombuffer(head.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 16)
    return (
        np.bitwise_or.reduce(_HEX_VALUE[data] << _NIBBLE_SHIFTS, axis=1)
        if len(data)
        else np.zeros(0, np.uint64)
    )


def draw_uniform(prompt_ids: pa.Array, seed: int) -> np.ndarray:
    """One number in [0, 1) per row, a function of (seed, prompt_id) alone.

    ``u = splitmix64(first 64 bits of prompt_id XOR splitmix64(seed)) / 2**64`` (53 bits kept), computed on
    whole columns at once.
    """
    seed_bits = splitmix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    mixed = splitmix64(prompt_id_bits(prompt_ids) ^ seed_bits)
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _padded(table: pa.Table, name: str, lengths: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """A list<double> column as an [n_rows, width] matrix, NaN for null and padding."""
    _, _, flat = list_parts(column_array(table, name))
    values = flat.to_numpy(zero_copy_only=False).astype(np.float64)
    out = np.full((len(lengths), width), np.nan)
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


def pair_indices(
    scores: np.ndarray,
    broken: np.ndarray,
    u: np.ndarray,
    options: BinarizeOptions,
    same_text: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairing rules on a score matrix; the kernel of :func:`binarize_table`.

    Args:
        scores: [rows, width] scores, NaN where a completion is unscorable or absent.
        broken: rows that are invalid as a whole.
        u: one uniform number per row (see :func:`draw_uniform`).
        same_text: ``f(rows, cols_a, cols_b) -> bool array`` telling whether two completions have the same text
            (needed only with ``drop_identical_text``).
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
        pairs &= reasons.open[:, None, None]
        rows, a, b = np.nonzero(pairs)
        return rows, a, b, reasons.values

    cols = np.arange(width)[None, :]
    if options.strategy == "zephyr":
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

    if options.strategy == "best-vs-all":
        rows, rejected = np.nonzero(candidates)
        return rows, chosen[rows], rejected, reasons.values
    if options.strategy == "best-vs-worst":
        rejected = np.where(candidates, scores, np.inf).argmin(axis=1)
    else:
        rejected = _pick(candidates, u)
    if options.strategy == "zephyr" and options.drop_ties:
        tied = reasons.open & (scores[np.arange(n), rejected] == top)
        reasons.mark(tied, "tie")
    rows = np.flatnonzero(reasons.open)
    return rows, chosen[rows], rejected[rows], reasons.values


def binarize_table(scored: pa.Table, options: BinarizeOptions | None = None) -> tuple[pa.Table, pa.Table]:
    """Pairs of one scored canonical batch (see :func:`notus_data.scoring.score_table`).

    Returns ``(pairs, outcomes)``: the pairs in the output format, in input order; and one outcome row per input
    row (row_index, prompt_id, source, reason (null when the row gave pairs), n_pairs, chosen_index).
    """
    options = options or BinarizeOptions()
    n = scored.num_rows
    completions = column_array(scored, "completions")
    lengths, starts, flat = list_parts(completions)
    width = int(lengths.max()) if n else 0
    scores = _padded(scored, "score", lengths, starts, width)
    broken = invalid_rows(scored)
    prompt_ids = column_array(scored, "prompt_id")
    u = draw_uniform(prompt_ids, options.seed) if options.strategy in ("notus", "zephyr") else np.zeros(n)
    responses = pc.struct_field(flat, "response")

    def same_text(rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _same_text(responses, starts[rows] + a, starts[rows] + b)

    rows, chosen, rejected, reasons = pair_indices(scores, broken, u, options, same_text)
    chosen_flat = pa.array(starts[rows] + chosen)
    rejected_flat = pa.array(starts[rows] + rejected)
    row_take = pa.array(rows, type=pa.int64())
    _, _, avg = list_parts(column_array(scored, "avg_rating"))
    _, _, score = list_parts(column_array(scored, "score"))
    models = pc.struct_field(flat, "model")
    pairs = build(
        options.format,
        source=column_array(scored, "source").take(row_take),
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
    )
    n_pairs = np.bincount(rows, minlength=n).astype(np.int64)
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
            pa.array(n_pairs),
            pa.array(first_chosen, mask=first_chosen < 0),
        ],
        schema=OUTCOME_SCHEMA,
    )
    return pairs, outcomes


@dataclass
class CurationOptions:
    """Curation steps that ``binarize`` can run before pairing (the recipes run the same steps)."""

    decisions: str | None = field(
        default=None,
        metadata={"help": "review decisions file (from notus-data review pull) applied before scoring"},
    )
    decontaminate: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "benchmarks whose prompts are removed before pairing, comma-separated (truthfulqa)"
        },
    )
    benchmark_file: tuple[str, ...] = field(
        default=(),
        metadata={"help": "local copy of the benchmark's questions (turns --decontaminate truthfulqa on)"},
    )

    def __post_init__(self) -> None:
        for name in ("decontaminate", "benchmark_file"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            setattr(self, name, tuple(value or ()))

    def decontaminate_options(self) -> Any:
        """The decontamination step's options, or None when the step is off."""
        if not self.decontaminate and not self.benchmark_file:
            return None
        from notus_data.decontaminate import DecontaminateOptions

        if self.decontaminate:
            return DecontaminateOptions(benchmark=self.decontaminate, benchmark_file=self.benchmark_file)
        return DecontaminateOptions(benchmark_file=self.benchmark_file)


def removed_outcomes(table: pa.Table, reason: str) -> pa.Table:
    """Outcome rows for canonical rows removed before pairing (for the report), all with ``reason``."""
    n = table.num_rows
    return pa.Table.from_arrays(
        [
            column_array(table, "row_index"),
            column_array(table, "prompt_id"),
            column_array(table, "source"),
            pa.array([reason] * n, type=pa.string()),
            pa.array(np.zeros(n, dtype=np.int64)),
            pa.nulls(n, type=pa.int64()),
        ],
        schema=OUTCOME_SCHEMA,
    )


def check_score_source(source: Any, score: str) -> None:
    """Fail before any work if the input lacks what the score source reads."""
    layout = source.layout
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


def binarize_outputs(output: str | os.PathLike, curation: CurationOptions) -> list[Path]:
    """Every path a binarize run writes: the pairs, the report, and the evidence and changes files."""
    paths = [Path(output), report_path(output)]
    if curation.decontaminate_options() is not None:
        from notus_data.decontaminate import evidence_path

        paths.append(evidence_path(output))
    if curation.decisions is not None:
        paths.append(sidecar_path(output, "changes.jsonl"))
    return paths


def binarize_inputs(input: str | os.PathLike, curation: CurationOptions) -> list[str]:
    """Every local file a binarize run reads: the input, the decisions, the benchmark files."""
    from notus_data.decontaminate.benchmarks import benchmark_paths

    return [
        str(input),
        *([curation.decisions] if curation.decisions else []),
        *benchmark_paths(curation.benchmark_file),
    ]


def binarize(
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
    ray_write: str = "driver",
    decisions: str | os.PathLike | None = None,
    decontaminate: tuple[str, ...] | str = (),
    benchmark_file: tuple[str, ...] | str = (),
    **options: Any,
) -> Report:
    """Load UltraFeedback-shaped data, score it, binarize it and write the pairs; return the run's report.

    The pairs go to ``output`` (.parquet, .jsonl, or a folder for ``save_to_disk``), atomically; the report goes
    beside it as ``OUTPUT.report.json``. ``options`` are the fields of :class:`BinarizeOptions`; ``engine`` and
    ``ray_address``, ``ray_write`` those of :class:`notus_data.engine.EngineOptions`. Before pairing, optionally: review
    ``decisions`` are applied (every change listed in ``OUTPUT.changes.jsonl``) and the prompts of the benchmarks in
    ``decontaminate`` are removed (counted as ``decontaminated``; the evidence goes to
    ``OUTPUT.decontamination.parquet``).
    """
    LoadOptions(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    EngineOptions(engine=engine, ray_address=ray_address, ray_write=ray_write)
    curation = CurationOptions(
        decisions=None if decisions is None else str(decisions),
        decontaminate=decontaminate,
        benchmark_file=benchmark_file,
    )
    opts = BinarizeOptions(**options)
    decontaminate_options = curation.decontaminate_options()
    guard_outputs("binarize", binarize_outputs(output, curation), binarize_inputs(input, curation))
    if engine == "ray":
        from notus_data.engine.ray import binarize_ray

        return binarize_ray(
            input,
            output,
            opts,
            ray_address=ray_address,
            revision=revision,
            split=split,
            batch_size=batch_size,
            curation=curation,
            ray_write=ray_write,
        )
    started = time.perf_counter()
    source = load_ultrafeedback(input, revision=revision, split=split, streaming=streaming)
    check_score_source(source, opts.score)
    tracker = step = None
    if curation.decisions is not None:
        from notus_data.review.apply import DecisionTracker, load_decisions

        tracker = DecisionTracker(load_decisions(curation.decisions))
    report = Report("binarize")
    report.info.update(source.describe())
    report.info["options"] = asdict(opts)
    report.info["curation"] = asdict(curation)
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(AtomicWriter(output, SCHEMAS[opts.format], command="binarize"))
        if decontaminate_options is not None:
            from notus_data.decontaminate import EVIDENCE_SCHEMA, DecontaminationStep, evidence_path

            step = DecontaminationStep(decontaminate_options)
            evidence = stack.enter_context(
                AtomicWriter(evidence_path(output), EVIDENCE_SCHEMA, command="binarize")
            )
        bar = stack.enter_context(progress_bar("binarize", source.num_rows, progress))
        for batch in source.iter_batches(batch_size):
            check_score_source(source, opts.score)
            rows = batch.num_rows
            if tracker is not None:
                batch = tracker.apply(batch)
            if step is not None:
                keep, hits = step.apply(batch)
                evidence.write(hits)
                report.add_step("decontaminate", {"rows_checked": rows, "rows_removed": hits.num_rows})
                if not keep.all():
                    report.add_outcomes(removed_outcomes(batch.filter(pa.array(~keep)), "decontaminated"))
                    batch = batch.filter(pa.array(keep))
            scored = score_table(batch, opts.score_options())
            pairs, outcomes = binarize_table(scored, opts)
            writer.write(pairs)
            report.add_outcomes(outcomes)
            report.add_step("score", score_counts(scored))
            bar.advance(rows)
    report.problems = source.problems
    report.check()
    if tracker is not None:
        report.add_step("decisions", tracker.counts())
        report.info["changes"] = str(
            write_table(tracker.changes(), sidecar_path(output, "changes.jsonl"), command="binarize")
        )
    if step is not None:
        report.add_step("decontaminate", step.describe())
    report.info["output"] = str(output)
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.write_json(report_path(output))
    return report
