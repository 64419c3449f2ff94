"""Run a step over an input on Ray Data and bring the results back in input order.

Parquet inputs (a file or a folder of shards): the driver plans chunks from the footers
(:func:`~notus_data.engine.plan.plan_chunks`) and ``ray.data.from_items(chunks).map_batches(...)`` has each task
read, prepare and process its own row groups. Other inputs: the driver reads and prepares the batches (the core
loaders) and Ray runs the step on them, a window of batches at a time (``ray.data.from_arrow``).

Either way the results stream back through :func:`in_order`, which hands them over by input position (Ray
Data keeps block order; the driver re-orders anyway and checks that every row came back exactly once), writes
the outputs with the given writers and adds up the partial reports.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from notus_data.engine.plan import Chunk, plan_chunks
from notus_data.engine.session import ray_session, user_error
from notus_data.engine.work import (
    ROW_COLUMN,
    Result,
    ShardWriter,
    Step,
    map_chunks,
    map_prepared,
    merge_report,
    unpack,
)
from notus_data.io import AtomicWriter, TableSource, is_local
from notus_data.report import Report

log = logging.getLogger("notus_data.engine")

#: Data the driver puts in the object store at a time when it reads a non-parquet input itself.
WINDOW_BYTES = 256 << 20


def parquet_files(input: str | os.PathLike, split: str | None) -> list[Path] | None:
    """The parquet files of a local parquet input, in the local engine's order; None for other inputs."""
    if not is_local(input):
        return None
    source = TableSource(Path(input), split=split)
    return source.files if source.kind == "parquet" else None


def run_on_ray(
    step: Step,
    input: str | os.PathLike,
    *,
    report: Report,
    writers: Sequence[AtomicWriter | None],
    driver_batches: Callable[[], Iterator[pa.Table]],
    shards: ShardWriter | None = None,
    ray_address: str | None = None,
    split: str | None = "train",
    batch_size: int,
    num_blocks: int | None = None,
    setup: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run ``step`` over ``input`` on Ray; write output ``i`` with ``writers[i]`` (None: not written, or written
    by the workers to ``shards`` for output 0) in input order, and add the partial reports to ``report``.

    ``driver_batches()`` yields the prepared batches (with :data:`~notus_data.engine.work.ROW_COLUMN`) of an
    input that is not parquet; ``setup()`` runs once Ray is up (e.g. to put a shared index in the object store).
    Returns a description of the run for ``report.info["engine"]``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    files = parquet_files(input, split)
    with ray_session(ray_address) as cluster:
        if setup is not None:
            setup()
        if files is not None:
            chunks = plan_chunks(files, batch_size)
            total = chunks[-1].start + chunks[-1].rows if chunks else 0
            cluster.update(read="workers (parquet row groups)", files=len(files), chunks=len(chunks))
            if chunks:
                blocks = _chunk_results(chunks, step, batch_size, num_blocks, shards)
                _consume(blocks, 0, total, writers, report)
        else:
            log.warning(
                "%s is not parquet: it is read on the driver and only the step runs on Ray; "
                "for parallel reads give parquet files on storage every node sees",
                input,
            )
            cluster["read"] = "driver (not parquet)"
            cluster["windows"] = _run_windows(
                driver_batches(), step, cluster["cpus"], writers, shards, report
            )
    return cluster


def _chunk_results(
    chunks: list[Chunk], step: Step, batch_size: int, num_blocks: int | None, shards: ShardWriter | None
) -> Iterator[pa.Table]:
    import ray.data

    items = [chunk.to_item() for chunk in chunks]
    blocks = min(num_blocks or len(items), len(items))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        map_chunks,
        fn_kwargs={"step": step, "batch_size": batch_size, "shards": shards},
        batch_size=1,
        batch_format="pyarrow",
    )
    yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow")


def _run_windows(
    batches: Iterator[pa.Table],
    step: Step,
    cpus: int,
    writers: Sequence[AtomicWriter | None],
    shards: ShardWriter | None,
    report: Report,
) -> int:
    """Send the driver's batches to Ray a window at a time (bounded object-store use); returns the windows."""
    import ray.data

    most = max(8, 4 * max(cpus, 1))
    window: list[pa.Table] = []
    size = windows = 0

    def flush() -> None:
        first = window[0].column(ROW_COLUMN)[0].as_py()
        end = window[-1].column(ROW_COLUMN)[-1].as_py() + 1
        dataset = ray.data.from_arrow(window).map_batches(
            map_prepared, fn_kwargs={"step": step, "shards": shards}, batch_size=None, batch_format="pyarrow"
        )
        _consume(dataset.iter_batches(batch_size=None, batch_format="pyarrow"), first, end, writers, report)

    for batch in batches:
        if batch.num_rows == 0:
            continue
        window.append(batch)
        size += batch.nbytes
        if len(window) >= most or size >= WINDOW_BYTES:
            flush()
            window, size, windows = [], 0, windows + 1
    if window:
        flush()
        windows += 1
    return windows


def in_order(blocks: Iterable[pa.Table], first: int, end: int) -> Iterator[Result]:
    """The results of ``blocks`` ordered by input position, checked to cover rows ``first`` .. ``end - 1``.

    An error result is raised when its turn comes, so the error is the one the local engine meets first.
    """
    pending: dict[int, Result] = {}
    expected = first
    try:
        for block in blocks:
            for result in unpack(block):
                pending[result.start] = result
                while expected in pending:
                    ready = pending.pop(expected)
                    if ready.error is not None:
                        raise ready.error
                    yield ready
                    expected += ready.rows
    except Exception as exc:
        error = user_error(exc)
        if error is None or error is exc:
            raise
        raise error from None
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()  # stop the Ray iterator now, not when it is garbage collected (maybe after ray.shutdown)
    if expected != end or pending:
        raise AssertionError(
            f"the Ray results cover rows {first}..{expected - 1} of {first}..{end - 1} "
            f"({len(pending)} out of order left); this is a bug"
        )


def _consume(
    blocks: Iterable[pa.Table], first: int, end: int, writers: Sequence[AtomicWriter | None], report: Report
) -> None:
    for result in in_order(blocks, first, end):
        for writer, table in zip(writers, result.tables, strict=False):
            if writer is not None and table is not None:
                writer.write(table)
        merge_report(report, result.report)
