"""``decontaminate(input, output, ...)``: the whole job, from a file or Hub id to a cleaned copy and its evidence."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontaminate.benchmarks import benchmark_paths
from notus_data.decontaminate.options import DecontaminateOptions
from notus_data.decontaminate.step import ALL_METHODS, EVIDENCE_SCHEMA, DecontaminationStep, check_columns
from notus_data.engine import EngineOptions
from notus_data.errors import NotusDataError
from notus_data.io import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_HUB_ID,
    DEFAULT_REVISION,
    AtomicWriter,
    LoadOptions,
    TableSource,
    guard_outputs,
    is_local,
    looks_like_hub_id,
    output_kind,
    report_path,
    sidecar_path,
)
from notus_data.progress import progress_bar
from notus_data.report import Report

REASON = "decontaminated"


def evidence_path(output: str | os.PathLike) -> Path:
    """Where the evidence of a run goes: ``OUTPUT.decontamination.jsonl`` beside a .jsonl output, else
    ``OUTPUT.decontamination.parquet``."""
    suffix = "jsonl" if output_kind(output) == "jsonl" else "parquet"
    return sidecar_path(output, f"decontamination.{suffix}")


class _Input:
    """Any input as batches of its own rows (all columns): a local table, or a Hub data set."""

    def __init__(self, input: str | os.PathLike, *, revision: str | None, split: str, streaming: bool):
        self.origin = str(input)
        self.revision = revision
        if is_local(input):
            self._table = TableSource(Path(input), split=split)
            self.schema = self._table.schema()
            self.num_rows = self._table.num_rows
            self._ds = None
            return
        if not looks_like_hub_id(self.origin):
            raise NotusDataError(f"{input}: no such file or folder, and not a Hub id (owner/name)")
        import datasets

        if revision is None and self.origin == DEFAULT_HUB_ID:
            self.revision = DEFAULT_REVISION
        try:
            self._ds = datasets.load_dataset(
                self.origin, revision=self.revision, split=split, streaming=streaming
            )
        except Exception as exc:  # offline, not found, gated, bad revision: one clear line
            raise NotusDataError(
                f"could not load '{self.origin}' (revision {self.revision or 'main'}, split {split}) with datasets: "
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
            ) from exc
        self._table = None
        self.schema = self._ds.features.arrow_schema if self._ds.features is not None else None
        self.num_rows = None if streaming else self._ds.num_rows

    def batches(self, batch_size: int) -> Iterator[pa.Table]:
        if self._table is not None:
            for _, batch in self._table.iter_batches(batch_size=batch_size):
                yield batch
        else:
            yield from self._ds.with_format("arrow").iter(batch_size=batch_size)

    def describe(self) -> dict[str, Any]:
        return {"input": self.origin, "revision": self.revision, "rows": self.num_rows}


def decontaminate_outcomes(batch: pa.Table, keep: np.ndarray) -> pa.Table:
    n = batch.num_rows
    if "source" in batch.schema.names:
        source = pc.fill_null(batch.column("source").cast(pa.string()), "unknown")
    else:
        source = pa.array(["unknown"] * n, pa.string())
    reason = np.where(keep, None, REASON)
    return pa.table(
        {
            "source": source,
            "reason": pa.array(reason.tolist(), pa.string()),
            "n_pairs": pa.array(keep.astype(np.int64)),
        }
    )


def step_counts(evidence: pa.Table, rows_checked: int) -> dict[str, Any]:
    """The report section of one batch: rows checked and removed, removals by method, benchmark and source."""
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


def decontaminate(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    dry_run: bool = False,
    index: Any = None,
    engine: str = "local",
    ray_address: str | None = None,
    **options: Any,
) -> Report:
    """Remove the rows of ``input`` that hold a benchmark question; write the rest to ``output``.

    ``input``: raw UltraFeedback (its ``instruction`` is checked) or binarized pairs in any format of
    ``binarize`` (``prompt``, and the user turns of message lists), as a local .parquet / .jsonl / .json file, a
    folder, or a Hub id. The output keeps the input's columns, atomically, as .parquet, .jsonl or a folder.
    Beside it: the evidence (:func:`evidence_path`, one row per removed row: benchmark, question, method,
    score) and the report (``OUTPUT.report.json``; removals by method, benchmark and source; the counts add up
    to the rows in). ``dry_run`` writes the evidence and the report but not the output.

    ``options`` are the fields of :class:`DecontaminateOptions` (``benchmark``, ``benchmark_file``, ...);
    ``index`` an already built :class:`DecontaminationIndex` (then the benchmark options are not used);
    ``engine="ray"`` runs the step on Ray (the index built once and shared with the workers), same output.
    """
    LoadOptions(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    EngineOptions(engine=engine, ray_address=ray_address)
    opts = DecontaminateOptions(**options)
    output_kind(output)  # a bad output extension fails before any work
    guard_outputs(
        "decontaminate",
        [output, evidence_path(output), report_path(output)],
        [input, *benchmark_paths(opts.benchmark_file)],
    )
    if engine == "ray":
        from notus_data.engine.ray import decontaminate_ray

        return decontaminate_ray(
            input,
            output,
            opts,
            ray_address=ray_address,
            revision=revision,
            split=split,
            batch_size=batch_size,
            dry_run=dry_run,
            index=index,
        )
    started = time.perf_counter()
    source = _Input(input, revision=revision, split=split, streaming=streaming)
    if source.schema is not None:
        check_columns(source.schema, opts, source.origin)
    step = DecontaminationStep(opts, index=index)
    report = Report("decontaminate")
    report.info.update(source.describe())
    report.info["options"] = asdict(opts)
    report.info["index"] = step.describe()
    report.info["dry_run"] = dry_run
    evidence_file = evidence_path(output)
    offset = 0
    with ExitStack() as stack:
        writer = (
            None
            if dry_run
            else stack.enter_context(AtomicWriter(output, source.schema, command="decontaminate"))
        )
        evidence_writer = stack.enter_context(
            AtomicWriter(evidence_file, EVIDENCE_SCHEMA, command="decontaminate")
        )
        bar = stack.enter_context(progress_bar("decontaminate", source.num_rows, progress))
        for batch in source.batches(batch_size):
            if offset == 0 and source.schema is None:
                check_columns(batch.schema, opts, source.origin)
            keep, evidence = step.apply(batch, row_offset=offset)
            if writer is not None:
                writer.write(batch.filter(pa.array(keep)))
            evidence_writer.write(evidence)
            report.add_outcomes(decontaminate_outcomes(batch, keep))
            report.add_step("decontaminate", step_counts(evidence, batch.num_rows))
            offset += batch.num_rows
            bar.advance(batch.num_rows)
    report.check()
    report.info["output"] = None if dry_run else str(output)
    report.info["evidence"] = str(evidence_file)
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.write_json(report_path(output))
    return report
