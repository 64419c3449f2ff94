"""The local engine: every batch in this process, in input order.

The stages overlap on threads. A local parquet input is cut into chunks of row groups (as for the Ray engine),
and ``workers`` threads each read a chunk, normalize it and run the steps on it; any other input is read (and
normalized) by a background thread while ``workers`` threads run the steps on the next batches. This thread
writes the results, strictly in input order, so the output is the same as a plain loop's. pyarrow and numpy
release the GIL for most of their work, so on a machine with two or more cores the stages run side by side.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from notus_data.io.tables import prefetch


class LocalEngine:
    """Runs a pipeline in this process (see the module docstring). ``workers``: threads that read and process
    batches side by side (default: one per core, at most 2; 0 does everything in this thread but the reading).
    The steps are pure, so the threads never change the output."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = min(2, os.cpu_count() or 1) if workers is None else workers

    def run(self, pipeline: Any) -> Any:
        work = pipeline.work()
        # Each worker takes a share of a batch, so the rows in flight (and the memory) stay about one batch.
        size = max(1, pipeline.batch_size // max(self.workers, 1))
        with pipeline.session() as run:
            chunks = work.source.plan(size) if self.workers > 0 else None
            if chunks:

                def chunk_results(chunk: Any) -> list[Any]:
                    return [work.process(batch) for batch in work.source.read(chunk, size)]

                for results in self._in_order(chunks, chunk_results):
                    for result in results:
                        run.add(result)
            elif self.workers <= 0:
                for batch in prefetch(work.batches(size)):
                    run.add(work.process(batch))
            else:
                for result in self._in_order(prefetch(work.batches(size)), work.process):
                    run.add(result)
        return run

    def _in_order(self, items: Iterable[Any], task: Callable[[Any], Any]) -> Iterable[Any]:
        """``task(item)`` for every item on the worker threads, given back in the items' order (at most
        ``workers`` items in flight, so memory holds a few batches)."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="notus-data-steps") as pool:
            pending: deque = deque()
            try:
                for item in items:
                    pending.append(pool.submit(task, item))
                    while len(pending) >= self.workers:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
