"""Length bias of a set of pairs: is the chosen response simply the longer one?

For every pair the length of the chosen and of the rejected response is counted in characters (Unicode code
points of the text). :class:`LengthStats` keeps, overall and by source: the pairs, how many have the chosen longer
(and how many equal), the sums of both lengths and of the squared differences (exact integers), and the count of
each length as sorted numpy arrays (for exact medians; the number of distinct lengths is bounded by the longest
text, not by the number of pairs). It merges by adding, so it is the same whatever the batch size or the number of workers.

The summary (:meth:`LengthStats.to_dict`): ``chosen_longer_share``, the mean and median length of chosen and
rejected, the mean difference (chosen - rejected) and the paired Cohen's d: the mean difference divided by the
standard deviation of the differences (n - 1 in the denominator). Positive d: chosen responses run longer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Decimals of the summary's means, shares and effect sizes.
DECIMALS = 4


def text_lengths(texts: pa.Array) -> np.ndarray:
    """Characters of each text (null: 0)."""
    return (
        pc.fill_null(pc.utf8_length(texts.cast(pa.string())), 0)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )


#: A histogram of lengths: (sorted distinct lengths, how many of each), int64 arrays.
Counts = tuple[np.ndarray, np.ndarray]


def _empty() -> Counts:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _counts(values: np.ndarray) -> Counts:
    keys, counts = np.unique(values, return_counts=True)
    return keys.astype(np.int64), counts.astype(np.int64)


def _combine(a: Counts, b: Counts) -> Counts:
    keys, inverse = np.unique(np.concatenate([a[0], b[0]]), return_inverse=True)
    counts = np.zeros(len(keys), dtype=np.int64)
    np.add.at(counts, inverse, np.concatenate([a[1], b[1]]))
    return keys, counts


def _median(counts: Counts, n: int) -> float | None:
    if n == 0:
        return None
    keys, cum = counts[0], np.cumsum(counts[1])
    lo = keys[int(np.searchsorted(cum, (n - 1) // 2, side="right"))]
    hi = keys[int(np.searchsorted(cum, n // 2, side="right"))]
    return (int(lo) + int(hi)) / 2


@dataclass
class _Lengths:
    """The sums of one group of pairs (all exact integers)."""

    pairs: int = 0
    chosen_longer: int = 0
    equal: int = 0
    chosen_sum: int = 0
    rejected_sum: int = 0
    diff_sq_sum: int = 0
    chosen: Counts = field(default_factory=_empty)
    rejected: Counts = field(default_factory=_empty)

    def add(self, chosen: np.ndarray, rejected: np.ndarray) -> None:
        diff = chosen - rejected
        self.pairs += len(chosen)
        self.chosen_longer += int((diff > 0).sum())
        self.equal += int((diff == 0).sum())
        self.chosen_sum += int(chosen.sum())
        self.rejected_sum += int(rejected.sum())
        self.diff_sq_sum += int((diff * diff).sum())  # exact in int64 for any batch of real texts
        self.chosen = _combine(self.chosen, _counts(chosen))
        self.rejected = _combine(self.rejected, _counts(rejected))

    def merge(self, other: _Lengths) -> _Lengths:
        out = _Lengths()
        for name in ("pairs", "chosen_longer", "equal", "chosen_sum", "rejected_sum", "diff_sq_sum"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.chosen = _combine(self.chosen, other.chosen)
        out.rejected = _combine(self.rejected, other.rejected)
        return out

    def to_dict(self) -> dict[str, Any]:
        n = self.pairs

        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), DECIMALS)

        mean_diff = (self.chosen_sum - self.rejected_sum) / n if n else None
        d = None
        if n >= 2:
            total = self.chosen_sum - self.rejected_sum
            variance = (self.diff_sq_sum - total * total / n) / (n - 1)
            d = total / n / variance**0.5 if variance > 0 else None
        return {
            "pairs": n,
            "chosen_longer": self.chosen_longer,
            "equal": self.equal,
            "chosen_longer_share": r(self.chosen_longer / n) if n else None,
            "chosen_mean": r(self.chosen_sum / n) if n else None,
            "rejected_mean": r(self.rejected_sum / n) if n else None,
            "chosen_median": _median(self.chosen, n),
            "rejected_median": _median(self.rejected, n),
            "mean_difference": r(mean_diff),
            "cohens_d": r(d),
        }

    def binned(self, edges: np.ndarray) -> dict[str, list[int]]:
        def binned(counts: Counts) -> list[int]:
            keys, weights = counts[0].astype(np.float64), counts[1].astype(np.float64)
            return np.histogram(np.maximum(keys, 1), bins=edges, weights=weights)[0].astype(int).tolist()

        return {"chosen": binned(self.chosen), "rejected": binned(self.rejected)}


@dataclass
class LengthStats:
    """Lengths of chosen and rejected responses, overall and by source (see the module docstring)."""

    unit: str = "characters"
    overall: _Lengths = field(default_factory=_Lengths)
    by_source: dict[str, _Lengths] = field(default_factory=dict)

    def add(self, source: pa.Array, chosen: pa.Array, rejected: pa.Array) -> None:
        """Count pairs: their source and the chosen and rejected texts."""
        c, r = text_lengths(chosen), text_lengths(rejected)
        self.overall.add(c, r)
        names = pc.fill_null(source.cast(pa.string()), "unknown")
        if isinstance(names, pa.ChunkedArray):
            names = names.combine_chunks()
        encoded = pc.dictionary_encode(names)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        for code, name in enumerate(encoded.dictionary.to_pylist()):
            rows = codes == code
            self.by_source.setdefault(name, _Lengths()).add(c[rows], r[rows])

    def merge(self, other: LengthStats) -> LengthStats:
        out = LengthStats(self.unit, self.overall.merge(other.overall))
        for name in sorted({*self.by_source, *other.by_source}):
            mine, theirs = self.by_source.get(name), other.by_source.get(name)
            out.by_source[name] = mine.merge(theirs) if mine and theirs else (mine or theirs)
        return out

    def edges(self) -> np.ndarray:
        """Log-spaced bin edges over the lengths seen (for the card's plot)."""
        top = int(max(self.overall.chosen[0].max(initial=1), self.overall.rejected[0].max(initial=1)))
        return np.unique(np.round(np.geomspace(1, max(top, 2) + 1, 31), 3))

    def histogram(self) -> dict[str, Any]:
        """Chosen and rejected lengths of every pair in log-spaced bins (the card's plot): edges, counts."""
        edges = self.edges()
        return {"unit": self.unit, "edges": edges.tolist(), **self.overall.binned(edges)}

    def to_dict(self) -> dict[str, Any]:
        """The summary of the report's length section, overall and by source."""
        return {
            "unit": self.unit,
            **self.overall.to_dict(),
            "by_source": {name: self.by_source[name].to_dict() for name in sorted(self.by_source)},
        }


def length_line(summary: dict[str, Any]) -> str | None:
    """One line for the terminal: how often the chosen response is the longer one, and the effect size."""
    if not summary or not summary.get("pairs"):
        return None
    d = summary["cohens_d"]
    return (
        f"length: chosen longer in {summary['chosen_longer']:,} of {summary['pairs']:,} pairs "
        f"({summary['chosen_longer_share']:.1%}); mean {summary['unit']} chosen {summary['chosen_mean']:,.1f}, "
        f"rejected {summary['rejected_mean']:,.1f}; Cohen's d {'-' if d is None else f'{d:.2f}'}"
    )
