"""The steps as the Ray engine runs them: each wraps the pure table functions of one job, batch by batch.

Each adapter does for one batch what the local job's loop does, and returns ``(output tables, partial Report)``
(see :class:`notus_data.engine.work.Step`):

- :class:`BinarizeStep`: normalize -> [decontaminate ->] :func:`~notus_data.scoring.score_table` ->
  :func:`~notus_data.binarize.binarize_table`; outputs (pairs,), or (pairs, evidence).
- :class:`FlagStep`: normalize (with critiques) -> :func:`~notus_data.flag.flag_table`; outputs (flagged,).
- :class:`DecontaminateStep`: raw rows (every column) -> :func:`~notus_data.decontaminate.find_contamination`;
  outputs (kept rows, evidence).

Wherever decontamination runs, the benchmark index is built once on the driver and put in the Ray object store
once; each worker process fetches it once (:func:`shared`) and reuses it for every batch.

The adapters hold only options (and an object reference), so they are cheap to send with every task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from notus_data.binarize import BinarizeOptions, binarize_table, removed_outcomes
from notus_data.report import Report
from notus_data.schema import RawLayout, check_raw_schema, needed_columns, normalize_batch
from notus_data.scoring import score_counts, score_table

#: Key of the flag section that carries (source, reason) counts between batches; the job turns it into
#: ``by_source`` at the end, as the local flag job does.
FLAG_PAIRS_KEY = "_by_source_and_reason"


@dataclass
class UltraFeedbackStep:
    """Base of the steps over canonical UltraFeedback batches: reads the nested fields scoring needs and
    normalizes raw batches with their input offset (the layout is checked once per file, as locally)."""

    with_critique = False
    _layouts: dict[str, RawLayout] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def columns(self) -> dict[str, list[str]]:
        return needed_columns(with_critique=self.with_critique)

    def prepare(self, raw: pa.Table, start: int, origin: str) -> tuple[pa.Table, pa.Table]:
        layout = self._layouts.get(origin)
        if layout is None:
            layout = self._layouts[origin] = check_raw_schema(raw.schema, origin)
        return normalize_batch(raw, layout, row_offset=start, with_critique=self.with_critique)


@dataclass
class BinarizeStep(UltraFeedbackStep):
    """[decontaminate ->] score -> binarize: the body of the loop of :func:`notus_data.binarize.binarize`.

    With ``decontaminate`` (a :class:`~notus_data.decontaminate.DecontaminateOptions`), the rows holding a
    benchmark question are removed before pairing (outcome ``decontaminated``) and the evidence is a second
    output; ``index`` is the benchmark index or a Ray reference to it.
    """

    options: BinarizeOptions = field(default_factory=BinarizeOptions)
    decontaminate: Any = None
    index: Any = None
    command = "binarize"

    def __call__(self, canonical: pa.Table, start: int) -> tuple[tuple[pa.Table, ...], Report]:
        part = Report(self.command)
        evidence = None
        if self.decontaminate is not None:
            from notus_data.decontaminate.step import find_contamination

            rows = canonical.num_rows
            keep, evidence = find_contamination(canonical, shared(self.index), self.decontaminate)
            part.add_step("decontaminate", {"rows_checked": rows, "rows_removed": evidence.num_rows})
            if not keep.all():
                part.add_outcomes(removed_outcomes(canonical.filter(pa.array(~keep)), "decontaminated"))
                canonical = canonical.filter(pa.array(keep))
        scored = score_table(canonical, self.options.score_options())
        pairs, outcomes = binarize_table(scored, self.options)
        part.add_outcomes(outcomes)
        part.add_step("score", score_counts(scored))
        return ((pairs,) if evidence is None else (pairs, evidence)), part


@dataclass
class FlagStep(UltraFeedbackStep):
    """flag_table on canonical batches with critiques: the body of the loop of :func:`notus_data.flag.flag`."""

    options: Any = None  # notus_data.flag.FlagOptions
    command = "flag"
    with_critique = True

    def __call__(self, canonical: pa.Table, start: int) -> tuple[tuple[pa.Table, ...], Report]:
        from notus_data.flag import flag_counts, flag_table

        flagged = flag_table(canonical, self.options)
        part = Report(self.command)
        from notus_data.flag import flag_outcomes

        part.add_outcomes(flag_outcomes(canonical, flagged))
        counts, by_source = flag_counts(canonical, flagged)
        part.add_step("flag", counts)
        if by_source:
            part.add_step("flag", {FLAG_PAIRS_KEY: dict(by_source)})
        return (flagged,), part


_SHARED: dict[str, Any] = {}


def shared(value: Any) -> Any:
    """The object behind a Ray object reference, fetched once per process; any other value as is."""
    try:
        import ray
    except ImportError:
        return value
    if not isinstance(value, ray.ObjectRef):
        return value
    key = value.hex()
    if key not in _SHARED:
        _SHARED.clear()  # one index at a time: a long-lived worker does not keep old runs' indexes
        _SHARED[key] = ray.get(value)
    return _SHARED[key]


@dataclass
class DecontaminateStep:
    """find_contamination on raw rows (every column): the body of the loop of
    :func:`notus_data.decontaminate.decontaminate`. ``index`` is the benchmark index or a Ray reference to it."""

    options: Any = None  # notus_data.decontaminate.DecontaminateOptions
    index: Any = None
    command = "decontaminate"
    columns = None

    def prepare(self, raw: pa.Table, start: int, origin: str) -> tuple[pa.Table, None]:
        return raw, None

    def __call__(self, batch: pa.Table, start: int) -> tuple[tuple[pa.Table, ...], Report]:
        from notus_data.decontaminate.api import step_counts
        from notus_data.decontaminate.step import find_contamination

        keep, evidence = find_contamination(batch, shared(self.index), self.options, row_offset=start)
        part = Report(self.command)
        from notus_data.decontaminate.api import decontaminate_outcomes

        part.add_outcomes(decontaminate_outcomes(batch, keep))
        part.add_step("decontaminate", step_counts(evidence, batch.num_rows))
        return (batch.filter(pa.array(keep)), evidence), part
