"""A pipeline: a source, a list of steps, a sink; checked before the first row is read, run by any engine.

Every job is a pipeline (``binarize`` is load -> [decisions ->] [decontaminate ->] score -> binarize; ``flag``,
``decontaminate``, ``compare`` and every recipe are others made of the same steps). :meth:`Pipeline.run` hands
it to an engine (:mod:`notus_data.engines`): the engine only decides where batches are read and processed; the
body of the loop, what is done to one batch, is :meth:`Work.process`, here, the same for every engine:

1. :meth:`Pipeline.check` (before any row): each step's declared ``reads`` are in the source's columns or added
   by an earlier step; each step's own check of the input; the sink's paths are not the inputs.
2. :meth:`Pipeline.setup`: each step's ``setup`` (benchmark index, decisions), once.
3. For each batch, in any process: :meth:`Work.process` runs the steps and returns a :class:`BatchResult` (the
   final table, the side tables, a partial report, the stats, the seconds per step).
4. In input order, in the process that owns the sink: :meth:`Run.add` writes the tables and merges the counts;
   after the last batch :meth:`Run.close` lets each step finish, checks that every row is accounted for, and
   closes the sink.

Rows: each row of the input is finished by one step (removed, or gave no output, with a reason; or gave output)
or reaches the end open, where it counts as one output row (the kept rows of ``decontaminate``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from notus_data.errors import SchemaError
from notus_data.io.sinks import Sink
from notus_data.io.sources import SourceBatch
from notus_data.progress import progress_bar
from notus_data.report import Report
from notus_data.schema import CANONICAL_SCHEMA
from notus_data.steps.base import Step, merge_stats


@dataclass
class BatchResult:
    """What the steps made of one batch: ``start`` and ``rows`` say which input rows it covers."""

    start: int
    rows: int
    main: pa.Table | None
    side: dict[str, list[pa.Table]]
    report: Report
    stats: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Work:
    """The part of a pipeline that processes batches (the source and the set-up steps, no sink): what an engine
    ships to its workers."""

    command: str
    source: Any
    steps: list[Step]

    def process(self, batch: SourceBatch) -> BatchResult:
        """Run every step on one batch (the one loop body of every engine)."""
        part = Report(self.command)
        part.rows_in = batch.table.num_rows
        part.problems.add(batch.problems)
        side: dict[str, list[pa.Table]] = {}
        stats: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        finished = 0
        table = batch.table
        for step in self.steps:
            began = time.perf_counter()
            result = step.process(table, batch.start)
            seconds[step.name] = seconds.get(step.name, 0.0) + time.perf_counter() - began
            if result.outcomes is not None:
                part.add_outcomes(result.outcomes, count_rows_in=False)
                finished += result.outcomes.num_rows
            if result.counts:
                part.add_step(step.name, result.counts)
            for name, extra in result.side.items():
                side.setdefault(name, []).append(extra)
            merge_stats(stats, result.stats)
            table = result.table
        open_rows = part.rows_in - finished
        part.rows_with_pairs += open_rows
        part.rows_out += open_rows
        return BatchResult(batch.start, batch.table.num_rows, table, side, part, stats, seconds)

    def batches(self, batch_size: int) -> Iterator[SourceBatch]:
        return self.source.batches(batch_size)


class Run:
    """One run of a pipeline, in the process that owns the sink: results come in, in input order."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.report = Report(pipeline.command)
        self.report.info.update(pipeline.info)
        self.stats: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.result: Any = None
        self._bar: Any = None

    def add(self, result: BatchResult) -> None:
        self.pipeline.sink.write(result)
        self.report.merge(result.report)
        merge_stats(self.stats, result.stats)
        for name, seconds in result.seconds.items():
            self.timings[name] = self.timings.get(name, 0.0) + seconds
        if self._bar is not None:
            self._bar.advance(result.rows)

    def close(self) -> None:
        for step in self.pipeline.steps:
            done = step.finish(self.stats)
            if done.counts:
                self.report.add_step(step.name, done.counts)
            for name, table in done.side.items():
                self.pipeline.sink.write_side(name, table)
        self.report.check()
        self.result = self.pipeline.sink.close(self.report, self.stats)


class Pipeline:
    """A source, steps and a sink (see the module docstring).

    Args:
        command: the name the report and the output's marker carry (``binarize``, ``run``, ...).
        source: an :class:`~notus_data.io.sources.UltraFeedbackSource` or :class:`~notus_data.io.sources.RowsSource`.
        steps: the steps, in order.
        sink: where the tables go (default: nowhere; the report and stats are still made).
        inputs: every local file the run reads (the input, decisions, benchmark files): no output may be one.
        batch_size: rows per batch (never changes the output).
        progress: draw a progress bar on stderr.
        info: what the report says about the run (input, options, ...).
    """

    def __init__(
        self,
        command: str,
        source: Any,
        steps: Sequence[Step],
        sink: Sink | None = None,
        *,
        inputs: Sequence[Any] = (),
        batch_size: int = 4096,
        progress: bool = False,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.command = command
        self.source = source
        self.steps = list(steps)
        self.sink = sink or Sink()
        self.inputs = list(inputs)
        self.batch_size = batch_size
        self.progress = progress
        self.info = dict(info or {})
        self._set_up = False

    # ------------------------------------------------------------------------------------------- before rows

    def source_columns(self) -> set[str] | None:
        """The columns the source gives (None where unknown before the first batch)."""
        given = getattr(self.source, "given_columns", None)
        if given is not None:
            return set(given)
        if getattr(self.source, "layout", None) is not None or hasattr(self.source, "with_critique"):
            names = set(CANONICAL_SCHEMA.names)
            return names | {"completions.critique"} if self.source.with_critique else names
        schema = getattr(self.source, "schema", None)
        return set(schema.names) if isinstance(schema, pa.Schema) else None

    def check(self) -> None:
        """Everything that can be checked before the first row is read (see the module docstring)."""
        if hasattr(self.source, "with_critique"):
            self.source.with_critique = any("completions.critique" in s.reads for s in self.steps)
        available = self.source_columns()
        for step in self.steps:
            if available is not None:
                missing = [c for c in step.reads if c not in available]
                if missing:
                    raise SchemaError(
                        f"{self.source.origin}: step '{step.name}' reads {missing}, which neither the input nor an "
                        f"earlier step gives (columns: {sorted(available)})"
                    )
                available |= set(step.adds)
            step.check(self.source)
        self.sink.check(self.inputs)

    def setup(self) -> None:
        if not self._set_up:
            for step in self.steps:
                step.setup()
            self._set_up = True

    def work(self) -> Work:
        """The source and the set-up steps, to process batches anywhere."""
        self.setup()
        return Work(self.command, self.source, self.steps)

    # ------------------------------------------------------------------------------------------------ running

    @contextlib.contextmanager
    def session(self) -> Iterator[Run]:
        """Open the sink and a progress bar; close both (or abort the sink) at the end."""
        run = Run(self)
        self.sink.open()
        try:
            with progress_bar(self.command, getattr(self.source, "num_rows", None), self.progress) as bar:
                run._bar = bar
                yield run
                run._bar = None
            run.close()
        except BaseException:
            self.sink.abort()
            raise

    def run(self, engine: str = "local", **engine_options: Any) -> Run:
        """Check, set up and run the pipeline on ``engine`` (``local`` or ``ray``); returns the finished
        :class:`Run` (its ``report``, ``stats``, ``timings`` and the sink's ``result``)."""
        from notus_data.engines import get_engine

        runner = get_engine(engine, **engine_options)
        self.check()
        started = time.perf_counter()
        self.setup()
        setup = time.perf_counter() - started
        run = runner.run(self)
        run.report.info["seconds"] = round(time.perf_counter() - started, 3)
        timings = {"setup": setup, **run.timings}
        run.report.info["timings"] = {name: round(seconds, 3) for name, seconds in timings.items()}
        self.sink.finalize(run.report)
        return run
