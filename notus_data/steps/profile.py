"""The profile step: score histograms of the completions that reach the binarizer, for the dataset card.

It measures and changes nothing: the batch goes on as it came, and the counts go to the stat ``scores`` (a
:class:`~notus_data.stats.ScoreStats`, which merges by adding), so the card's plots are the same whatever the
batch size or the number of workers.
"""

from __future__ import annotations

import pyarrow as pa

from notus_data.stats import ScoreStats
from notus_data.steps.base import Step, StepResult


class ProfileStep(Step):
    """Counts the mean ratings and overall_scores of scored canonical batches (see the module docstring)."""

    name = "profile"
    reads = ("completions", "avg_rating")

    def __init__(self, pair_format: str, ranking_score: str) -> None:
        self.pair_format, self.ranking_score = pair_format, ranking_score

    def process(self, table: pa.Table, start: int) -> StepResult:
        stats = ScoreStats(self.pair_format, self.ranking_score)
        stats.add_completions(table)
        return StepResult(table, stats={"scores": stats})
