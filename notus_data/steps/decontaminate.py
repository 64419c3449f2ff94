"""The decontaminate step: remove the rows that hold a benchmark question, with the evidence of each removal.

Works on canonical UltraFeedback batches (its ``instruction``) and on any table of prompts or pairs (``prompt``,
the user turns of message lists; see :mod:`notus_data.decontamination.find`). The benchmark index is built once
in :meth:`DecontaminateStep.setup` (or given, already built). Each removed row is finished here with the reason
``decontaminated`` and one evidence row (side output ``evidence``); the kept rows go on.

Section ``decontaminate``: rows checked and removed per batch, and after the last batch what was removed against
(benchmarks, questions, index hash, methods). With ``detail=True`` (the ``decontaminate`` job) the removals are
also counted by method, benchmark and source, and the closing description is left to the job.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from notus_data.decontamination import paraphrase
from notus_data.decontamination.find import (
    ALL_METHODS,
    EVIDENCE_SCHEMA,
    check_columns,
    describe_index,
    find_contamination,
    load_index,
)
from notus_data.decontamination.index import DecontaminationIndex
from notus_data.decontamination.options import DecontaminateOptions
from notus_data.steps.base import Finish, Step, StepResult, outcomes

REASON = "decontaminated"


def removal_counts(evidence: pa.Table, rows_checked: int) -> dict[str, Any]:
    """Rows checked and removed, and the removals by method, benchmark and source."""
    methods = evidence.column("method").to_pylist()
    sources = [s or "unknown" for s in evidence.column("source").to_pylist()]
    by_method = Counter(methods)
    return {
        "rows_checked": rows_checked,
        "rows_removed": evidence.num_rows,
        "by_method": {m: by_method[m] for m in ALL_METHODS if by_method[m]},
        "by_benchmark": dict(Counter(evidence.column("benchmark").to_pylist())),
        "by_source": dict(Counter(sources)),
        "by_source_and_method": dict(Counter(f"{s}/{m}" for s, m in zip(sources, methods, strict=True))),
    }


class DecontaminateStep(Step):
    """Removes the rows holding a benchmark question (see the module docstring)."""

    name = "decontaminate"
    side_outputs = {"evidence": EVIDENCE_SCHEMA}

    def __init__(
        self,
        options: DecontaminateOptions | None = None,
        *,
        index: DecontaminationIndex | None = None,
        detail: bool = False,
    ) -> None:
        self.options = options or DecontaminateOptions()
        self.index = index
        self.detail = detail
        self.sources_info: list[dict[str, Any]] = []

    def check(self, source: Any) -> None:
        schema = getattr(source, "schema", None)
        if isinstance(schema, pa.Schema):  # a source of raw rows: its own columns are checked
            check_columns(schema, self.options, source.origin)

    def setup(self) -> None:
        if self.index is None:
            self.index, self.sources_info = load_index(self.options)
        if "ngram" in self.options.methods:
            self.index.ngrams(self.options.ngram_size)  # built once here, so that it travels with the index
        if "paraphrase" in self.options.methods:
            paraphrase.stem_table(self.index)

    def describe(self) -> dict[str, Any]:
        """What the step removes against (after :meth:`setup`)."""
        return describe_index(self.index, self.options, self.sources_info)

    def apply(self, table: pa.Table, row_offset: int = 0) -> tuple[Any, pa.Table]:
        """(keep mask over the rows, evidence of the removed ones) of one table, after :meth:`setup`."""
        return find_contamination(table, self.index, self.options, row_offset=row_offset)

    def process(self, table: pa.Table, start: int) -> StepResult:
        keep, evidence = self.apply(table, start)
        if self.detail:
            counts = removal_counts(evidence, table.num_rows)
        else:
            counts = {"rows_checked": table.num_rows, "rows_removed": evidence.num_rows}
        kept = table if keep.all() else table.filter(pa.array(keep))
        done = outcomes(evidence.column("source"), REASON, 0)
        return StepResult(kept, outcomes=done, side={"evidence": evidence}, counts=counts)

    def finish(self, stats: dict[str, Any]) -> Finish:
        return Finish() if self.detail else Finish(counts=self.describe())
