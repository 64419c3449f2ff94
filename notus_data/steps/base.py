"""The step contract: what every step of a pipeline declares, takes and gives back.

A step works on one batch at a time, a ``pyarrow.Table``. It declares

- ``name``: its section of the run's report;
- ``reads``: the columns it needs (canonical names; a nested completion field as ``completions.critique``),
  checked before the first row is read;
- ``adds``: the columns it adds to the batch, which later steps may read;
- ``side_outputs``: the tables it gives besides the batch (name -> schema): evidence, flags, changes.

and implements ``process(table, start) -> StepResult``. ``start`` is the input position of the batch's first
row (canonical batches also carry ``row_index``). A step is pure with respect to the batch: the same batch gives
the same result, whatever came before, so batches can be processed in any order, in any process. State built once
(a benchmark index, review decisions) is built in :meth:`Step.setup`, which the engine calls once before the first
batch, in the process that builds the pipeline; an engine with workers ships the set-up step to them.

A :class:`StepResult` holds the batch for the next step, the *outcomes* of the rows the step finished (a row it
removed, or a row that gave no output, each with its reason; or, for the step that makes the output, how many
output rows each row gave), the side tables, the counts of the step's report section, and *stats*: objects with
``merge(other)`` that the card reads (histograms, comparisons). Counts and stats merge associatively, so an
engine may merge the results of many workers in any grouping. After the last batch the engine calls
:meth:`Step.finish` with the merged stats, for closing counts and side rows (unmatched decisions, say).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The columns of an outcomes table: ``source`` (for the by-source counts), ``reason`` (null: the row gave
#: output), ``n_out`` (output rows the row gave: pairs, flagged completions, kept rows).
OUTCOME_FIELDS = ("source", "reason", "n_out")


def outcomes(source: pa.Array | Iterable[str], reason: Any, n_out: Any) -> pa.Table:
    """An outcomes table; ``reason`` and ``n_out`` may be one value for every row.

    >>> outcomes(["a", "b"], "decontaminated", 0).to_pylist()[0]
    {'source': 'a', 'reason': 'decontaminated', 'n_out': 0}
    """
    source = (
        source if isinstance(source, (pa.Array, pa.ChunkedArray)) else pa.array(list(source), pa.string())
    )
    n = len(source)
    source = pc.fill_null(source.cast(pa.string()), "unknown")
    if reason is None or isinstance(reason, str):
        reason = pa.array([reason] * n, pa.string())
    elif not isinstance(reason, (pa.Array, pa.ChunkedArray)):
        reason = pa.array(list(reason), pa.string())
    if isinstance(n_out, (int, np.integer)):
        n_out = np.full(n, int(n_out), dtype=np.int64)
    n_out = n_out if isinstance(n_out, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(n_out, np.int64))
    return pa.table({"source": source, "reason": reason, "n_out": n_out.cast(pa.int64())})


@dataclass
class StepResult:
    """What a step gives back for one batch (see the module docstring)."""

    table: pa.Table
    outcomes: pa.Table | None = None
    side: dict[str, pa.Table] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finish:
    """What a step adds after the last batch: closing counts, and last rows of its side tables."""

    counts: dict[str, Any] = field(default_factory=dict)
    side: dict[str, pa.Table] = field(default_factory=dict)


class Step:
    """Base class of the steps (see the module docstring). Subclasses set the class attributes and implement
    :meth:`process`; ``setup``, ``check`` and ``finish`` are optional."""

    name: str = "step"
    reads: tuple[str, ...] = ()
    adds: tuple[str, ...] = ()
    side_outputs: dict[str, pa.Schema] = {}

    def check(self, source: Any) -> None:
        """Fail before any row is read when ``source`` (its layout, schema) lacks what the options need."""

    def setup(self) -> None:
        """Build what every batch shares (once, before the first batch)."""

    def process(self, table: pa.Table, start: int) -> StepResult:
        raise NotImplementedError

    def finish(self, stats: dict[str, Any]) -> Finish:
        """Closing counts and side rows, from the stats of every batch merged."""
        return Finish()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def merge_stats(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Merge stats objects by name (``merge`` of each object; a name seen once is taken as it is)."""
    for key, value in other.items():
        if key in into:
            into[key] = into[key].merge(value)
        else:
            into[key] = value
    return into
