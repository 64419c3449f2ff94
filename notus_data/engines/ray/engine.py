"""The Ray engine: any pipeline over a Ray cluster (Ray Data), with the output and report of the local engine.

1. The driver checks and sets up the pipeline as the local engine does (schema checks, benchmark index built
   once, decisions loaded) and puts its work (source and steps) in the object store once.
2. Local parquet inputs (a file or a folder of shards): the driver plans chunks from the footers
   (:func:`~notus_data.io.chunks.plan_chunks`) and ``ray.data.from_items(chunks).map_batches(...)`` has each task
   read its own row groups (only the columns the steps read) and run the steps. Other inputs (JSON lines, a
   ``save_to_disk`` folder, a Hub id, streaming, a data set in memory): the driver reads the batches and Ray runs
   the steps on them, a window of batches at a time; a warning says so.
3. The results stream back through :func:`in_order`, which hands them over by input position (Ray Data keeps
   block order; the driver re-orders anyway and checks that every row came back exactly once) to the pipeline's
   run, which writes them through the sink and merges the counts, exactly as on the local engine.

Nothing is shuffled: every draw depends on ``(seed, prompt_id)`` alone. With ``ray_write="parallel"`` each task
writes its main output itself (:class:`~notus_data.engines.ray.work.ShardWriter`), for clusters where one
driver cannot write fast enough.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from notus_data.engines import RAY_WRITES
from notus_data.engines.ray.session import import_ray, ray_session, user_error
from notus_data.engines.ray.work import Result, ShardWriter, map_chunks, map_sent, sent_items, unpack
from notus_data.errors import OptionError

log = logging.getLogger("notus_data.engines")

#: Data the driver puts in the object store at a time when it reads an input itself.
WINDOW_BYTES = 256 << 20


class RayEngine:
    """Runs a pipeline on Ray (see the module docstring).

    Args:
        ray_address: ``host:port``, ``ray://host:port`` or ``auto``; default ``RAY_ADDRESS``, else a new local Ray.
            Not used when Ray is already initialized in this process (that session is used).
        num_blocks: Ray Data blocks the chunks are spread over (default: one block per chunk).
        ray_write: ``driver`` (the driver writes through the sink: the local engine's bytes) or ``parallel``
            (each task writes its main output into the output folder).
    """

    def __init__(
        self, ray_address: str | None = None, num_blocks: int | None = None, ray_write: str = "driver"
    ):
        if ray_write not in RAY_WRITES:
            raise OptionError(
                f"ray_write: {ray_write!r} is not a write mode; choose one of {', '.join(RAY_WRITES)}"
            )
        self.ray_address, self.num_blocks, self.ray_write = ray_address, num_blocks, ray_write
        import_ray()  # a missing extra fails before any work, with the install line

    def run(self, pipeline: Any) -> Any:
        import ray

        shards: ShardWriter | None = None
        if self.ray_write == "parallel" and not hasattr(pipeline.sink, "shard_writer"):
            raise OptionError(
                "ray_write: 'parallel' is for jobs that write one table to a folder; use 'driver'"
            )
        work = pipeline.work()
        batch_size = pipeline.batch_size
        with ray_session(self.ray_address) as cluster, pipeline.session() as run:
            chunks = work.source.plan(batch_size)
            if self.ray_write == "parallel":
                shards = pipeline.sink.shard_writer()
            if chunks is not None:
                shipped = ray.put(work)
                cluster.update(read="workers (parquet row groups)", files=len({c.path for c in chunks}))
                cluster["chunks"] = len(chunks)
                if chunks:
                    blocks = self._chunk_results(chunks, shipped, batch_size, shards)
                    end = chunks[-1].start + chunks[-1].rows
                    for result in in_order(blocks, 0, end):
                        run.add(result.result)
            else:
                log.warning(
                    "%s is not parquet: it is read on the driver and only the steps run on Ray; "
                    "for parallel reads give parquet files on storage every node sees",
                    work.source.origin,
                )
                cluster["read"] = "driver (not parquet)"
                shipped = ray.put(type(work)(work.command, None, work.steps))  # the steps, not the input
                cluster["windows"] = self._run_windows(work, shipped, cluster["cpus"], shards, run)
            cluster["write"] = "driver" if shards is None else "parallel"
            run.report.info["engine"] = {**cluster, **run.report.info.get("engine", {})}
        return run

    def _chunk_results(
        self, chunks: list, work: Any, batch_size: int, shards: ShardWriter | None
    ) -> Iterator:
        import ray.data

        items = [chunk.to_item() for chunk in chunks]
        blocks = min(self.num_blocks or len(items), len(items))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            map_chunks,
            fn_kwargs={"work": work, "batch_size": batch_size, "shards": shards},
            batch_size=1,
            batch_format="pyarrow",
        )
        yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow")

    def _run_windows(self, work: Any, shipped: Any, cpus: int, shards: ShardWriter | None, run: Any) -> int:
        """Send the driver's batches to Ray a window at a time (bounded object-store use); returns the windows."""
        import ray.data

        most = max(8, 4 * max(cpus, 1))
        window: list[Any] = []
        size = windows = 0

        def flush() -> None:
            first, last = window[0], window[-1]
            dataset = ray.data.from_items(sent_items(window)).map_batches(
                map_sent, fn_kwargs={"work": shipped, "shards": shards}, batch_size=1, batch_format="pyarrow"
            )
            blocks = dataset.iter_batches(batch_size=None, batch_format="pyarrow")
            for result in in_order(blocks, first.start, last.start + last.table.num_rows):
                run.add(result.result)

        for batch in work.batches(run.pipeline.batch_size):
            window.append(batch)
            size += batch.table.nbytes
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
