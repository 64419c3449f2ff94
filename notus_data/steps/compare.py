"""The compare step: binarize each batch two ways and count how often the chosen response differs.

The Notus card says that binarizing on the mean rating instead of the critique's overall_score changed the chosen
response in about 50% of prompts; :func:`compare` measures it on any input, overall and by source.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import check_numbers
from notus_data.schema import column_array, list_parts
from notus_data.steps.base import Step, StepResult
from notus_data.steps.binarize import BinarizeOptions, binarize_table
from notus_data.steps.score import check_score_source, score_table


@dataclass
class CompareOptions:
    """The two binarizations compared (each a strategy with its default score source unless one is given)."""

    a: str = field(default="notus", metadata={"help": "first strategy (as in binarize --strategy)"})
    b: str = field(default="zephyr", metadata={"help": "second strategy"})
    a_score: str | None = field(
        default=None, metadata={"help": "score source of the first (default: its strategy's)"}
    )
    b_score: str | None = field(default=None, metadata={"help": "score source of the second"})
    seed: int = field(default=42, metadata={"help": "seed of the random draws"})

    def __post_init__(self) -> None:
        check_numbers(self)

    def binarizations(self) -> tuple[BinarizeOptions, BinarizeOptions]:
        return (
            BinarizeOptions(strategy=self.a, score=self.a_score, seed=self.seed),
            BinarizeOptions(strategy=self.b, score=self.b_score, seed=self.seed),
        )


@dataclass
class Comparison:
    """Counts of a comparison; ``by_source`` holds the same counts per source."""

    a: str
    b: str
    rows: int = 0
    both: int = 0
    chosen_differs: int = 0
    chosen_text_differs: int = 0
    only_a: int = 0
    only_b: int = 0
    neither: int = 0
    by_source: dict[str, Counter] = field(default_factory=dict)

    def merge(self, other: Comparison) -> Comparison:
        """The counts of both (a stat: merges in any order)."""
        out = Comparison(self.a, self.b)
        for name in ("rows", "both", "chosen_differs", "chosen_text_differs", "only_a", "only_b", "neither"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        for part in (self.by_source, other.by_source):
            for source, counts in part.items():
                out.by_source.setdefault(source, Counter()).update(counts)
        return out

    @property
    def rate(self) -> float | None:
        """Share of the prompts paired by both where the chosen completion differs."""
        return self.chosen_differs / self.both if self.both else None

    def to_dict(self) -> dict[str, Any]:
        by_source = {}
        for source, counts in sorted(self.by_source.items()):
            both = counts["both"]
            by_source[source] = {
                "both": both,
                "chosen_differs": counts["chosen_differs"],
                "rate": round(counts["chosen_differs"] / both, 6) if both else None,
            }
        out = {k: v for k, v in asdict(self).items() if k != "by_source"}
        out["rate"] = None if self.rate is None else round(self.rate, 6)
        out["by_source"] = by_source
        return out

    def render(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.table import Table

        console = console or Console(stderr=True)
        table = Table(title=f"chosen response: {self.a} vs {self.b}", header_style="bold")
        for name in ("source", "paired by both", "chosen differs", "rate"):
            table.add_column(name, justify="left" if name == "source" else "right")
        data = self.to_dict()
        for source, counts in data["by_source"].items():
            rate = "-" if counts["rate"] is None else f"{counts['rate']:.1%}"
            table.add_row(source, f"{counts['both']:,}", f"{counts['chosen_differs']:,}", rate)
        rate = "-" if self.rate is None else f"{self.rate:.1%}"
        table.add_row(
            "[bold]all[/bold]", f"{self.both:,}", f"{self.chosen_differs:,}", f"[bold]{rate}[/bold]"
        )
        console.print(table)
        console.print(
            f"rows {self.rows:,}; paired only by {self.a}: {self.only_a:,}; only by {self.b}: {self.only_b:,}; "
            f"by neither: {self.neither:,}; chosen text differs: {self.chosen_text_differs:,}"
        )


def compare_table(canonical: pa.Table, a: BinarizeOptions, b: BinarizeOptions, into: Comparison) -> None:
    """Add one canonical batch's comparison to ``into``."""
    _, out_a = binarize_table(score_table(canonical, a.score_options()), a)
    _, out_b = binarize_table(score_table(canonical, b.score_options()), b)
    paired_a = out_a.column("reason").is_null().to_numpy(zero_copy_only=False)
    paired_b = out_b.column("reason").is_null().to_numpy(zero_copy_only=False)
    chosen_a = out_a.column("chosen_index").to_numpy(zero_copy_only=False)
    chosen_b = out_b.column("chosen_index").to_numpy(zero_copy_only=False)
    both = paired_a & paired_b
    differs = both & (chosen_a != chosen_b)
    # Text: two completions may hold the same response; compare the responses themselves too.
    _, starts, flat = list_parts(column_array(canonical, "completions"))
    responses = pc.struct_field(flat, "response")
    idx = np.flatnonzero(differs)
    same = pc.equal(
        responses.take(pa.array(starts[idx] + chosen_a[idx].astype(np.int64))),
        responses.take(pa.array(starts[idx] + chosen_b[idx].astype(np.int64))),
    )
    text_differs = len(idx) - int(pc.sum(pc.fill_null(same, False).cast(pa.int64())).as_py() or 0)
    into.rows += canonical.num_rows
    into.both += int(both.sum())
    into.chosen_differs += int(differs.sum())
    into.chosen_text_differs += int(text_differs)
    into.only_a += int((paired_a & ~paired_b).sum())
    into.only_b += int((~paired_a & paired_b).sum())
    into.neither += int((~paired_a & ~paired_b).sum())
    sources = np.asarray(canonical.column("source").to_pylist(), dtype=object)
    for source in np.unique(sources[both]):
        mask = both & (sources == source)
        counts = into.by_source.setdefault(str(source), Counter())
        counts["both"] += int(mask.sum())
        counts["chosen_differs"] += int((mask & differs).sum())


class CompareStep(Step):
    """Counts, per batch, where binarizations ``a`` and ``b`` choose a different response (stat ``comparison``);
    the batch goes on unchanged."""

    name = "compare"
    reads = ("completions", "prompt_id", "source")

    def __init__(self, a: BinarizeOptions, b: BinarizeOptions, labels: tuple[str, str] | None = None) -> None:
        self.a, self.b = a, b
        self.labels = labels or (f"{a.strategy} ({a.score})", f"{b.strategy} ({b.score})")

    @classmethod
    def from_options(cls, options: CompareOptions) -> CompareStep:
        return cls(*options.binarizations())

    def check(self, source: Any) -> None:
        for side in (self.a, self.b):
            check_score_source(source, side.score)

    def process(self, table: pa.Table, start: int) -> StepResult:
        counts = Comparison(*self.labels)
        compare_table(table, self.a, self.b, counts)
        return StepResult(table, stats={"comparison": counts})
