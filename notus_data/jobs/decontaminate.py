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


def review_evidence(
    evidence: str | os.PathLike,
    *,
    benchmark: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    method: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The rows of an evidence file (``OUTPUT.decontamination.parquet`` / ``.jsonl``) to review, weakest match
    first (by score; rows removed by their source, with no score, last): only ``benchmark`` / ``method`` where
    given, and scores in [``min_score``, ``max_score``]."""
    from notus_data.errors import InputError, OptionError
    from notus_data.io import read_table

    path = Path(evidence)
    if not path.exists():
        raise InputError(f"evidence: {path}: no such file; it is written beside a decontaminate OUTPUT")
    for name, value in (("min_score", min_score), ("max_score", max_score)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise OptionError(f"{name}: {value!r} is not a number")
    table = read_table(path)
    missing = [c for c in ("benchmark", "question", "method", "score", "text") if c not in table.schema.names]
    if missing:
        raise InputError(f"evidence: {path}: no column {missing}; is it a decontamination evidence file?")
    rows = table.to_pylist()
    if benchmark is not None:
        rows = [r for r in rows if r["benchmark"] == benchmark]
    if method is not None:
        rows = [r for r in rows if r["method"] == method]
    if min_score is not None:
        rows = [r for r in rows if r["score"] is not None and r["score"] >= min_score]
    if max_score is not None:
        rows = [r for r in rows if r["score"] is not None and r["score"] <= max_score]
    rows.sort(
        key=lambda r: (r["score"] is None, r["score"] if r["score"] is not None else 0.0, r["row_index"])
    )
    return rows[:limit] if limit is not None else rows


def _excerpt(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_review(rows: list[dict[str, Any]], *, width: int = 60) -> str:
    """The rows of :func:`review_evidence` as a plain-text table: row, benchmark/question id, method, score,
    prompt excerpt and matched question."""
    header = ["row", "benchmark/id", "method", "score", "prompt", "matched question"]
    body = [
        [
            str(r.get("row_index")),
            f"{r.get('benchmark')}/{r.get('question_id')}"
            if r.get("question_id")
            else str(r.get("benchmark")),
            str(r.get("method")),
            "-" if r.get("score") is None else f"{r['score']:.3f}",
            _excerpt(r.get("text"), width),
            _excerpt(r.get("question"), width),
        ]
        for r in rows
    ]
    sizes = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(s) for h, s in zip(header, sizes, strict=True)).rstrip()]
    out.append("  ".join("-" * s for s in sizes))
    out += ["  ".join(c.ljust(s) for c, s in zip(line, sizes, strict=True)).rstrip() for line in body]
    return "\n".join(out)
