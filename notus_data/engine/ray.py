"""The Ray engine: the jobs of the local engine (binarize, flag, decontaminate) fanned out over a Ray cluster.

How a job runs (``binarize(..., engine="ray")``, or ``notus-data binarize ... --engine ray``):

1. The driver opens the input with the core loader (same schema checks, same errors as the local engine) and,
   for parquet inputs (a file or a folder of shards), reads only the footers to cut the input into chunks of
   consecutive row groups of about ``batch_size`` rows, each with the input position of its first row
   (:mod:`notus_data.engine.plan`).
2. ``ray.data.from_items(chunks).map_batches(fn, batch_format="pyarrow")``: each task reads its row groups
   (only the nested fields the step uses), normalizes them with the right ``row_index`` offset and runs the
   step's pure table functions, returning the outputs and the batch's partial report
   (:mod:`notus_data.engine.steps`, :mod:`notus_data.engine.work`). Nothing is shuffled; what every task gets
   is the options, and for decontamination a reference to the benchmark index, built once on the driver and
   put in the object store once (each worker process fetches it once).
3. The driver takes the results in input order, writes them through the core
   :class:`~notus_data.io.AtomicWriter` and adds up the partial reports (:mod:`notus_data.engine.runner`).

By default (``ray_write="driver"``) the driver writes the output through the same writer as the local engine,
so the file is byte-identical to the local engine's for every output kind (.parquet, .jsonl, ``save_to_disk``
folder). The pairs are several times smaller than the input rows (no critiques, rationales or other
completions), so one writer keeps up with a handful of machines; past that, binarize's ``ray_write="parallel"``
has every task write its own parquet file into an output folder (same pairs, same order by file name, a file
layout that follows the chunks). The random draws depend only on ``(seed, prompt_id)``, so the pairs do not
depend on how the input is cut.

Inputs that are not parquet (JSON lines, a ``save_to_disk`` folder, a Hub id for binarize and flag) are read on
the driver by the core loaders; only the steps run on the cluster (a warning says so).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from notus_data.binarize import (
    BinarizeOptions,
    CurationOptions,
    binarize_inputs,
    binarize_outputs,
    check_score_source,
)
from notus_data.engine import RAY_WRITES
from notus_data.engine.runner import run_on_ray
from notus_data.engine.session import import_ray
from notus_data.engine.steps import FLAG_PAIRS_KEY, BinarizeStep, DecontaminateStep, FlagStep
from notus_data.engine.work import ShardWriter, with_rows
from notus_data.errors import NotusDataError, OptionError
from notus_data.formats import SCHEMAS
from notus_data.io import (
    DEFAULT_BATCH_SIZE,
    AtomicWriter,
    TableSource,
    atomic_path,
    guard_outputs,
    is_local,
    load_ultrafeedback,
    output_kind,
    report_path,
    write_marker,
    write_table,
)
from notus_data.report import Report


def _canonical_batches(source: Any, batch_size: int):
    """The canonical batches of a core source, tagged with their input positions (the driver-read path)."""

    def batches():
        for batch in source.iter_batches(batch_size):
            yield with_rows(batch, batch.column("row_index")[0].as_py())

    return batches


def _finish(report: Report, engine: dict[str, Any], output: str | os.PathLike, started: float) -> Report:
    report.info["engine"] = engine
    report.info["output"] = str(output)
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.write_json(report_path(output))
    return report


def _share_index(step: Any, built: Any, options: Any):
    """A setup function: put the driver's benchmark index in the object store once, for ``step`` to use."""

    def setup() -> None:
        import ray

        if "ngram" in options.methods:
            built.index.ngrams(options.ngram_size)  # built here once, so that it travels with the index
        step.index = ray.put(built.index)

    return setup


def binarize_ray(
    input: str | os.PathLike,
    output: str | os.PathLike,
    opts: BinarizeOptions,
    *,
    ray_address: str | None = None,
    revision: str | None = None,
    split: str = "train",
    batch_size: int = DEFAULT_BATCH_SIZE,
    curation: CurationOptions | None = None,
    num_blocks: int | None = None,
    ray_write: str = "driver",
) -> Report:
    """:func:`notus_data.binarize.binarize` on Ray: same pairs, same bytes, same report counts.

    Args:
        input: a parquet file or a folder of parquet shards (read by the workers; on a multi-machine cluster it
            must be on storage every node sees, at the same path), or any other input of the local engine
            (read on the driver).
        output: .parquet, .jsonl or a folder (``save_to_disk``); the report goes beside it.
        opts: the binarize options.
        ray_address: the cluster to use: ``host:port``, ``ray://host:port`` or ``auto`` (the cluster started
            on this machine with ``ray start``); default ``RAY_ADDRESS``, else a new local Ray. Not used when
            Ray is already initialized in this process (that session is used).
        batch_size: rows per task (chunks are cut at row-group boundaries near this size).
        curation: the curation steps before pairing; ``decontaminate`` / ``benchmark_file`` run on the workers
            (the index built once on the driver and shared), ``decisions`` is not available on Ray.
        num_blocks: Ray Data blocks the chunks are spread over (default: one block per chunk).
        ray_write: ``driver`` (default): the driver writes ``output`` through the local engine's writer, so the
            bytes are the local engine's. ``parallel``: each task writes its pairs itself, as
            ``OUTPUT/part-<first input row>.parquet`` (``output`` is then a folder of parquet files, on
            storage every node sees); read in file-name order they are the same pairs in the same order, but
            the files follow the chunks rather than the local engine's layout.
    Returns:
        The run's :class:`Report` (also written to ``OUTPUT.report.json``); ``info["engine"]`` tells where and
        how it ran.
    """
    import_ray()  # a missing extra fails before any work, with the install line
    curation = curation or CurationOptions()
    if ray_write not in RAY_WRITES:
        raise OptionError(
            f"ray_write: {ray_write!r} is not a write mode; choose one of {', '.join(RAY_WRITES)}"
        )
    if ray_write == "parallel" and output_kind(output) != "folder":
        raise OptionError(
            f"ray_write: 'parallel' writes a folder of parquet files, but {output} has an extension; give an "
            "output path without one, or use ray_write='driver' for a single file"
        )
    if curation.decisions is not None:
        raise OptionError(
            "decisions: not available with engine='ray'; apply the review decisions with the local engine "
            "(notus-data review apply), then binarize on Ray"
        )
    guard_outputs("binarize", binarize_outputs(output, curation), binarize_inputs(input, curation))
    started = time.perf_counter()
    source = load_ultrafeedback(input, revision=revision, split=split)
    check_score_source(source, opts.score)
    decontaminate = curation.decontaminate_options()
    built = setup = None
    step = BinarizeStep(options=opts, decontaminate=decontaminate)
    if decontaminate is not None:
        from notus_data.decontaminate import EVIDENCE_SCHEMA, DecontaminationStep, evidence_path

        built = DecontaminationStep(decontaminate)  # loads the benchmarks and builds the index, once
        setup = _share_index(step, built, decontaminate)
    report = Report("binarize")
    report.info.update(source.describe())
    report.info["options"] = asdict(opts)
    report.info["curation"] = asdict(curation)
    run = functools.partial(
        run_on_ray,
        step,
        input,
        report=report,
        driver_batches=_canonical_batches(source, batch_size),
        setup=setup,
        ray_address=ray_address,
        split=split,
        batch_size=batch_size,
        num_blocks=num_blocks,
    )
    schema = SCHEMAS[opts.format]
    with contextlib.ExitStack() as stack:
        evidence = None
        if built is not None:
            evidence = stack.enter_context(
                AtomicWriter(evidence_path(output), EVIDENCE_SCHEMA, command="binarize")
            )
        if ray_write == "driver":
            writer = stack.enter_context(AtomicWriter(output, schema, command="binarize"))
            engine = run(writers=(writer, evidence))
            engine["write"] = "driver"
        else:
            folder = stack.enter_context(atomic_path(output))
            folder.mkdir()
            write_marker(folder, "binarize")
            shards = ShardWriter(str(folder.resolve()), schema)
            engine = run(writers=(None, evidence), shards=shards)
            files = sorted(folder.glob("part-*.parquet"))
            if not files:  # an empty result is still a readable (empty) table
                write_table(schema.empty_table(), shards.path(0))
            engine["write"] = f"parallel ({max(len(files), 1)} parquet files)"
    if engine["read"].startswith("driver"):
        report.problems = source.problems
    report.check()
    if built is not None:
        report.add_step("decontaminate", built.describe())
        engine["index"] = "built once on the driver, shared through the Ray object store"
    return _finish(report, engine, output, started)


def flag_ray(
    input: str | os.PathLike,
    output: str | os.PathLike,
    opts: Any,
    *,
    ray_address: str | None = None,
    revision: str | None = None,
    split: str = "train",
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_blocks: int | None = None,
) -> Report:
    """:func:`notus_data.flag.flag` on Ray (``opts``: a :class:`~notus_data.flag.FlagOptions`): the same
    flagged completions, byte for byte, and the same report counts. Arguments as :func:`binarize_ray`."""
    from notus_data.flag import FLAGGED_SCHEMA, REASONS, check_critique

    import_ray()
    guard_outputs("flag", [output, report_path(output)], [input])
    started = time.perf_counter()
    source = load_ultrafeedback(input, revision=revision, split=split, with_critique=True)
    check_critique(source, opts)
    report = Report("flag")
    report.info.update(source.describe())
    report.info["options"] = asdict(opts)
    report.info["reasons"] = {r: REASONS[r] for r in opts.rules}
    with AtomicWriter(output, FLAGGED_SCHEMA, command="flag") as writer:
        engine = run_on_ray(
            FlagStep(options=opts),
            input,
            report=report,
            writers=(writer,),
            driver_batches=_canonical_batches(source, batch_size),
            ray_address=ray_address,
            split=split,
            batch_size=batch_size,
            num_blocks=num_blocks,
        )
    section = report.steps.setdefault("flag", {})
    pairs = section.pop(FLAG_PAIRS_KEY, {})
    section["by_source"] = {
        s: {r: n for (s2, r), n in sorted(pairs.items()) if s2 == s} for s in sorted({s for s, _ in pairs})
    }
    if engine["read"].startswith("driver"):
        report.problems = source.problems
    report.check()
    return _finish(report, engine, output, started)


def decontaminate_ray(
    input: str | os.PathLike,
    output: str | os.PathLike,
    opts: Any,
    *,
    ray_address: str | None = None,
    revision: str | None = None,
    split: str = "train",
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    index: Any = None,
    num_blocks: int | None = None,
) -> Report:
    """:func:`notus_data.decontaminate.decontaminate` on Ray (``opts``: a
    :class:`~notus_data.decontaminate.DecontaminateOptions`): the same kept rows and evidence, byte for byte,
    and the same report counts.

    The benchmark index is built (or loaded from ``index_cache``, or taken from ``index``) once, on the driver,
    and put once in the Ray object store; every worker process fetches it once and reuses it for all its
    batches. ``input`` must be a local file or folder (parquet is read by the workers; other formats on the
    driver). Other arguments as :func:`binarize_ray`.
    """
    from notus_data.decontaminate import EVIDENCE_SCHEMA, DecontaminationStep, evidence_path
    from notus_data.decontaminate.benchmarks import benchmark_paths
    from notus_data.decontaminate.step import check_columns

    import_ray()
    output_kind(output)
    guard_outputs(
        "decontaminate",
        [output, evidence_path(output), report_path(output)],
        [input, *benchmark_paths(opts.benchmark_file)],
    )
    started = time.perf_counter()
    if not is_local(input):
        raise NotusDataError(
            f"{input}: no such file or folder; decontaminate with engine='ray' reads local files or folders "
            "(download a Hub data set first, e.g. as parquet, or use the local engine)"
        )
    table_source = TableSource(Path(input), split=split)
    schema = table_source.schema()
    check_columns(schema, opts, str(input))
    built = DecontaminationStep(opts, index=index)
    report = Report("decontaminate")
    report.info.update({"input": str(input), "revision": revision, "rows": table_source.num_rows})
    report.info["options"] = asdict(opts)
    report.info["index"] = built.describe()
    report.info["dry_run"] = dry_run
    evidence_file = evidence_path(output)
    step = DecontaminateStep(options=opts)

    def driver_batches():
        offset = 0
        for _, batch in table_source.iter_batches(batch_size=batch_size):
            yield with_rows(batch, offset)
            offset += batch.num_rows

    with contextlib.ExitStack() as stack:
        writer = (
            None if dry_run else stack.enter_context(AtomicWriter(output, schema, command="decontaminate"))
        )
        evidence_writer = stack.enter_context(
            AtomicWriter(evidence_file, EVIDENCE_SCHEMA, command="decontaminate")
        )
        engine = run_on_ray(
            step,
            input,
            report=report,
            writers=(writer, evidence_writer),
            driver_batches=driver_batches,
            setup=_share_index(step, built, opts),
            ray_address=ray_address,
            split=split,
            batch_size=batch_size,
            num_blocks=num_blocks,
        )
    engine["index"] = "built once on the driver, shared through the Ray object store"
    report.info["engine"] = engine
    report.check()
    report.info["output"] = None if dry_run else str(output)
    report.info["evidence"] = str(evidence_file)
    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.write_json(report_path(output))
    return report
