"""Convert: pairs read by the ``pairs`` source (:mod:`notus_data.sources.pairs`) written in another format.

Every pair is written in the output format (:func:`notus_data.formats.build`), in input order; a row that is no
pair is counted with its reason (:data:`notus_data.formats.read.REASONS`: ``null_text``, ``prompt_mismatch``,
...). A score, rating or model the input does not hold is null in the output. ``kto`` writes each pair's chosen
row, then its rejected row; a pair whose two texts are the same gives one row (convert sees one pair at a time,
so the same completion in two pairs of a prompt is written twice; binarize to ``kto`` from rated rows to have
each (prompt, completion) once).

The report's ``length`` section (:mod:`notus_data.length`) measures the pairs converted, as binarize does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError
from notus_data.formats import FORMATS, SCHEMAS, build, kto_order
from notus_data.length import LengthStats
from notus_data.sources.pairs import PAIRS_SCHEMA
from notus_data.steps.base import Finish, Step, StepResult, outcomes


@dataclass
class ConvertOptions:
    """What ``convert`` writes. Every field is also a ``notus-data convert`` option of the same name."""

    format: str = field(default="trl", metadata={"help": "output columns", "choices": FORMATS})

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise OptionError(
                f"format: {self.format!r} is not an output format; choose one of {', '.join(FORMATS)}"
            )


def convert_table(pairs: pa.Table, fmt: str) -> tuple[pa.Table, np.ndarray]:
    """The pairs of one :data:`PAIRS_SCHEMA` batch in format ``fmt``, and the rows each input row gave."""
    good = pc.is_null(pairs.column("problem")).to_numpy(zero_copy_only=False)
    kept = pairs.filter(pa.array(good))

    def col(name: str) -> pa.Array:
        return kept.column(name).combine_chunks()

    n = kept.num_rows
    table = build(
        fmt,
        source=col("source"),
        prompt=col("prompt"),
        prompt_id=col("prompt_id"),
        chosen=col("chosen"),
        rejected=col("rejected"),
        chosen_model=col("chosen_model"),
        rejected_model=col("rejected_model"),
        chosen_avg_rating=col("chosen_avg_rating"),
        rejected_avg_rating=col("rejected_avg_rating"),
        chosen_score=col("chosen_score"),
        rejected_score=col("rejected_score"),
        prompt_messages=col("prompt_messages"),
        group=np.arange(n),
    )
    n_out = good.astype(np.int64)
    if fmt == "kto":
        rows = np.flatnonzero(good)
        n_out[rows] = np.bincount(kto_order(np.arange(n), col("chosen"), col("rejected")) // 2, minlength=n)
    return table, n_out


class ConvertStep(Step):
    """Pairs in any format (read by the pairs source) -> the output format; every row finished here."""

    name = "convert"
    reads = tuple(PAIRS_SCHEMA.names)

    def __init__(self, options: ConvertOptions | None = None) -> None:
        self.options = options or ConvertOptions()
        self.schema = SCHEMAS[self.options.format]

    def process(self, table: pa.Table, start: int) -> StepResult:
        converted, n_out = convert_table(table, self.options.format)
        done = outcomes(table.column("source"), table.column("problem"), n_out)
        good = table.filter(pc.is_null(table.column("problem")))
        lengths = LengthStats()
        lengths.add(*(good.column(name).combine_chunks() for name in ("source", "chosen", "rejected")))
        return StepResult(converted, outcomes=done, stats={"length": lengths})

    def finish(self, stats: dict[str, Any]) -> Finish:
        """The length section of the report (:mod:`notus_data.length`)."""
        return Finish(counts={"length": stats.get("length", LengthStats()).to_dict()})
