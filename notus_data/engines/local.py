"""The local engine: every batch in this process, in input order.

Three stages overlap: a background thread reads (and normalizes) the next batches, a worker thread runs the
steps on the next batch, and this thread writes the results. pyarrow and numpy release the GIL for most of
their work, so on a machine with two or more cores the stages run side by side. Results are written strictly in
input order, so the output is the same as a plain loop's.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from notus_data.io.tables import prefetch


class LocalEngine:
    """Runs a pipeline in this process (see the module docstring). ``workers``: threads that run the steps
    (1 by default; 0 runs them in this thread)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def run(self, pipeline: Any) -> Any:
        work = pipeline.work()
        with pipeline.session() as run:
            batches = prefetch(work.batches(pipeline.batch_size))
            if self.workers <= 0:
                for batch in batches:
                    run.add(work.process(batch))
                return run
            with ThreadPoolExecutor(self.workers, thread_name_prefix="notus-data-steps") as pool:
                pending: deque = deque()
                for batch in batches:
                    pending.append(pool.submit(work.process, batch))
                    while len(pending) > self.workers:
                        run.add(pending.popleft().result())
                while pending:
                    run.add(pending.popleft().result())
        return run
