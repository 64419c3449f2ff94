"""What a run measures on the way, for the dataset card: score histograms, evidence summaries.

Everything here is a count over fixed bins or a capped list of examples in input order, so it is the same
whatever the batch size, and memory does not grow with the input. Histograms and :class:`ScoreStats` merge by
adding their counts (any order, any grouping), so engines can measure batches in many workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.schema import list_parts

#: The score columns of a pair in each output format, and whether they hold the ranking score.
PAIR_SCORE_COLUMNS = {
    "notus": ("chosen_score", "rejected_score", "ranking"),
    "cleaned": ("chosen-rating", "rejected-rating", "avg-rating"),
    "h4": ("score_chosen", "score_rejected", "ranking"),
    "trl": ("score_chosen", "score_rejected", "ranking"),
    "llama-factory": ("score_chosen", "score_rejected", "ranking"),
    "openrlhf": (None, None, "ranking"),  # only the margin
    "kto": ("score", "score", "ranking"),  # one score a row; ``label`` tells chosen from rejected
}
#: Characters of a quoted text (prompt, critique) in the card.
QUOTE_CHARS = 160


def _edges(low: float, high: float, step: float) -> np.ndarray:
    """Bin edges centred on the values low, low + step, ..., high (scores come in such steps: overall_score in
    halves, a mean of four ratings in quarters), so that each bar stands over its value."""
    return np.round(np.arange(low - step / 2, high + step, step), 6)


@dataclass
class Histogram:
    """Counts over fixed bin edges (the last bin includes its right edge); NaN values are counted apart."""

    edges: np.ndarray
    counts: np.ndarray = None  # type: ignore[assignment]
    missing: int = 0

    def __post_init__(self) -> None:
        if self.counts is None:
            self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)

    @classmethod
    def range(cls, low: float, high: float, step: float) -> Histogram:
        """Bins of width ``step`` centred on ``low`` .. ``high``."""
        return cls(_edges(low, high, step))

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        nan = np.isnan(values)
        self.missing += int(nan.sum())
        self.counts += np.histogram(values[~nan], bins=self.edges)[0]

    def merge(self, other: Histogram) -> Histogram:
        return Histogram(self.edges, self.counts + other.counts, self.missing + other.missing)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges.tolist(), "counts": self.counts.tolist(), "missing": self.missing}


def _score_scale(score: str) -> tuple[float, float, float]:
    return (1.0, 10.0, 0.5) if score == "overall-score" else (1.0, 5.0, 0.25)


@dataclass
class ScoreStats:
    """Histograms of the completions that reach the binarizer, and of the pairs it makes."""

    pair_format: str
    ranking_score: str
    avg_rating: Histogram = field(default_factory=lambda: Histogram.range(1, 5, 0.25))
    overall_score: Histogram = field(default_factory=lambda: Histogram.range(1, 10, 0.5))
    #: completions by (overall_score rounded to an integer 1-10, mean rating rounded to the nearest 0.5)
    agreement: np.ndarray = field(default_factory=lambda: np.zeros((10, 9), dtype=np.int64))
    chosen: Histogram = None  # type: ignore[assignment]
    rejected: Histogram = None  # type: ignore[assignment]
    margin: Histogram = None  # type: ignore[assignment]
    pairs: int = 0
    #: pairs whose chosen and rejected score the same (the zephyr strategy keeps them)
    ties: int = 0
    #: the sums of the chosen and of the rejected scores (exact means, not from the histograms' bins)
    chosen_sum: float = 0.0
    rejected_sum: float = 0.0

    def __post_init__(self) -> None:
        low, high, step = _score_scale(self.pair_score_source)
        self.chosen = Histogram.range(low, high, step)
        self.rejected = Histogram.range(low, high, step)
        self.margin = Histogram.range(0, high - low, step)

    @property
    def pair_score_source(self) -> str:
        """The score source of the pair columns (the -cleaned format carries mean ratings)."""
        return "avg-rating" if PAIR_SCORE_COLUMNS[self.pair_format][2] == "avg-rating" else self.ranking_score

    def add_completions(self, scored: pa.Table) -> None:
        """Count the completions of a scored canonical batch (:func:`notus_data.steps.score.score_table`)."""
        _, _, avg = list_parts(scored.column("avg_rating").combine_chunks())
        _, _, flat = list_parts(scored.column("completions").combine_chunks())
        responses = pc.is_valid(pc.struct_field(flat, "response")).to_numpy(zero_copy_only=False)
        avg_values = avg.to_numpy(zero_copy_only=False).astype(np.float64)[responses]
        overall = pc.struct_field(flat, "overall_score").to_numpy(zero_copy_only=False).astype(np.float64)
        overall = overall[responses]
        self.avg_rating.add(avg_values)
        self.overall_score.add(overall)
        both = ~np.isnan(avg_values) & ~np.isnan(overall)
        if both.any():
            i = np.clip(np.rint(overall[both]).astype(int), 1, 10) - 1
            j = np.clip(np.rint(avg_values[both] * 2).astype(int), 2, 10) - 2
            np.add.at(self.agreement, (i, j), 1)

    def add_pairs(self, pairs: pa.Table) -> None:
        chosen_name, rejected_name, _ = PAIR_SCORE_COLUMNS[self.pair_format]
        if self.pair_format == "openrlhf":  # the margin alone
            self.margin.add(pairs.column("margin").to_numpy(zero_copy_only=False).astype(np.float64))
            self.pairs += pairs.num_rows
            return
        if self.pair_format == "kto":  # unpaired rows: the chosen and rejected score histograms only
            score = pairs.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
            label = pairs.column("label").to_numpy(zero_copy_only=False).astype(bool)
            self.chosen.add(score[label])
            self.rejected.add(score[~label])
            self.chosen_sum += float(np.nansum(score[label]))
            self.rejected_sum += float(np.nansum(score[~label]))
            self.pairs += pairs.num_rows
            return
        chosen = pairs.column(chosen_name).to_numpy().astype(np.float64)
        rejected = pairs.column(rejected_name).to_numpy().astype(np.float64)
        self.chosen.add(chosen)
        self.rejected.add(rejected)
        self.margin.add(chosen - rejected)
        self.chosen_sum += float(np.nansum(chosen))
        self.rejected_sum += float(np.nansum(rejected))
        self.pairs += len(chosen)
        self.ties += int((chosen == rejected).sum())

    def merge(self, other: ScoreStats) -> ScoreStats:
        out = ScoreStats(self.pair_format, self.ranking_score)
        for name in ("avg_rating", "overall_score", "chosen", "rejected", "margin"):
            setattr(out, name, getattr(self, name).merge(getattr(other, name)))
        out.agreement = self.agreement + other.agreement
        out.pairs, out.ties = self.pairs + other.pairs, self.ties + other.ties
        out.chosen_sum, out.rejected_sum = (
            self.chosen_sum + other.chosen_sum,
            self.rejected_sum + other.rejected_sum,
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair_score_source": self.pair_score_source,
            "completions": {
                "avg_rating": self.avg_rating.to_dict(),
                "overall_score": self.overall_score.to_dict(),
                "agreement": self.agreement.tolist(),
            },
            "pairs": {
                "count": self.pairs,
                "ties": self.ties,
                "chosen_mean": round(self.chosen_sum / self.pairs, 6) if self.pairs else None,
                "rejected_mean": round(self.rejected_sum / self.pairs, 6) if self.pairs else None,
                "chosen": self.chosen.to_dict(),
                "rejected": self.rejected.to_dict(),
                "margin": self.margin.to_dict(),
            },
        }


def quote(text: Any, limit: int = QUOTE_CHARS) -> str:
    """A one-line excerpt of a text for the card."""
    if text is None:
        return ""
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"


@dataclass
class Evidence:
    """Counts and the first examples (input order) of one evidence step: what it found and why."""

    max_examples: int
    rows: int = 0
    by_kind: Counter = field(default_factory=Counter)
    by_source: dict[str, Counter] = field(default_factory=dict)
    by_benchmark: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add_examples(self, rows: list[dict[str, Any]]) -> None:
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.examples.extend(rows[:room])

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_benchmark": dict(sorted(self.by_benchmark.items())),
            "by_source": {s: dict(sorted(c.items())) for s, c in sorted(self.by_source.items())},
            "examples": self.examples,
        }


def add_flag_evidence(evidence: Evidence, flagged: pa.Table) -> None:
    """Count a batch of flagged completions (:func:`notus_data.steps.flag.flag_table` output)."""
    if flagged.num_rows == 0:
        return
    evidence.rows += flagged.num_rows
    reasons = flagged.column("reasons").combine_chunks()
    sources = flagged.column("source").combine_chunks().take(pc.list_parent_indices(reasons))
    table = pa.table({"kind": pc.list_flatten(reasons), "source": pc.fill_null(sources, "unknown")})
    grouped = table.group_by(["source", "kind"]).aggregate([([], "count_all")])
    for source, kind, n in zip(
        *(grouped.column(c).to_pylist() for c in ("source", "kind", "count_all")), strict=True
    ):
        evidence.by_kind[kind] += n
        evidence.by_source.setdefault(source, Counter())[kind] += n
    if len(evidence.examples) < evidence.max_examples:
        head = flagged.slice(0, evidence.max_examples - len(evidence.examples)).to_pylist()
        evidence.add_examples(
            [
                {
                    "row_index": r["row_index"],
                    "source": r["source"],
                    "model": r["model"],
                    "overall_score": r["overall_score"],
                    "avg_rating": None if r["avg_rating"] is None else round(r["avg_rating"], 3),
                    "reasons": r["reasons"],
                    "critique": quote(r["critique"]),
                }
                for r in head
            ]
        )


def add_decontamination_evidence(evidence: Evidence, hits: pa.Table) -> None:
    """Count a batch of decontamination evidence (:data:`notus_data.decontamination.EVIDENCE_SCHEMA`, one row per
    removed row)."""
    if hits.num_rows == 0:
        return
    evidence.rows += hits.num_rows
    columns = {name: hits.column(name).to_pylist() for name in ("source", "method", "benchmark")}
    for source, method, benchmark in zip(
        columns["source"], columns["method"], columns["benchmark"], strict=True
    ):
        evidence.by_kind[method] += 1
        evidence.by_benchmark[benchmark] += 1
        evidence.by_source.setdefault(source or "unknown", Counter())[method] += 1
    if len(evidence.examples) < evidence.max_examples:
        # Examples: the copies found by matching (rows removed for their source alone say nothing new).
        matched = hits.filter(pc.not_equal(hits.column("method"), "source"))
        head = matched.slice(0, evidence.max_examples - len(evidence.examples)).to_pylist()
        evidence.add_examples(
            [
                {
                    "row_index": r["row_index"],
                    "source": r["source"],
                    "method": r["method"],
                    "score": r["score"],
                    "benchmark": r["benchmark"],
                    "prompt": quote(r["text"]),
                    "question": quote(r["question"]),
                }
                for r in head
            ]
        )
