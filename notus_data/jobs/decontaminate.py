"""``decontaminate``: remove the rows of any table that hold a benchmark question; write the rest and the
evidence.

A pipeline of one step (:class:`~notus_data.steps.decontaminate.DecontaminateStep`) over the input's own rows,
every column kept: raw UltraFeedback (its ``instruction`` is checked) or pairs in any ``binarize`` format.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from notus_data.decontamination.benchmarks import benchmark_paths
from notus_data.decontamination.find import EVIDENCE_SCHEMA
from notus_data.decontamination.options import DecontaminateOptions
from notus_data.engines import EngineOptions
from notus_data.io.paths import DEFAULT_BATCH_SIZE, output_kind, report_path, sidecar_path
from notus_data.io.sources import input_paths, load_rows
from notus_data.jobs.common import as_dataset, check_load, check_path, engine_kwargs, sink_for
from notus_data.pipeline import Pipeline
from notus_data.report import Report
from notus_data.steps.decontaminate import DecontaminateStep


def evidence_path(output: str | os.PathLike) -> Path:
    """Where the evidence of a run goes: ``OUTPUT.decontamination.jsonl`` beside a .jsonl output, else
    ``OUTPUT.decontamination.parquet``."""
    suffix = "jsonl" if output_kind(output) == "jsonl" else "parquet"
    return sidecar_path(output, f"decontamination.{suffix}")


def decontaminate(
    input: Any,
    output: str | os.PathLike | None = None,
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
    num_blocks: int | None = None,
    **options: Any,
) -> Report | tuple[Any, Report]:
    """Remove the rows of ``input`` that hold a benchmark question; write the rest to ``output``.

    ``input``: raw UltraFeedback (its ``instruction`` is checked) or binarized pairs in any format of
    ``binarize`` (``prompt``, and the user turns of message lists), as a local .parquet / .jsonl / .json file, a
    folder, a Hub id, or a table in memory. The output keeps the input's columns, atomically, as .parquet,
    .jsonl or a folder. Beside it: the evidence (:func:`evidence_path`, one row per removed row: benchmark,
    question, method, score) and the report (``OUTPUT.report.json``; removals by method, benchmark and source;
    the counts add up to the rows in). ``dry_run`` writes the evidence and the report but not the output. With
    no ``output``: ``(kept rows, report)`` as ``datasets.Dataset`` objects, the evidence in
    ``report.tables["evidence"]``.

    ``options`` are the fields of :class:`DecontaminateOptions` (``benchmark``, ``benchmark_file``, ...);
    ``index`` an already built :class:`~notus_data.decontamination.DecontaminationIndex` (then the benchmark
    options are not used); ``engine="ray"`` runs the step on Ray (the index built once and shared), same output.
    """
    check_load(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    if output is not None:
        check_path(output, "output")
    engine_options = EngineOptions(engine=engine, ray_address=ray_address)
    opts = DecontaminateOptions(**options)
    if output is not None:
        output_kind(output)  # a bad output extension fails before any work
    source = load_rows(input, revision=revision, split=split, streaming=streaming)
    step = DecontaminateStep(opts, index=index, detail=True)
    sink = sink_for(
        "decontaminate",
        output,
        sides={} if output is None else {"evidence": evidence_path(output)},
        report=None if output is None else report_path(output),
        schemas={"main": source.schema, "evidence": EVIDENCE_SCHEMA},
        write_main=not dry_run,
    )
    info = {**source.describe(), "options": asdict(opts), "dry_run": dry_run}
    if output is not None:
        info.update(output=None if dry_run else str(output), evidence=str(evidence_path(output)))
    pipeline = Pipeline(
        "decontaminate", source, [step], sink, inputs=input_paths([input, *benchmark_paths(opts.benchmark_file)]),
        batch_size=batch_size, progress=progress, info=info,
    )  # fmt: skip
    pipeline.check()
    pipeline.setup()
    pipeline.info["index"] = step.describe()
    run = pipeline.run(engine, **engine_kwargs(engine_options, num_blocks))
    if output is None:
        run.report.tables = {"evidence": as_dataset(run.result["evidence"])}
        return as_dataset(run.result["main"]), run.report
    return run.report
