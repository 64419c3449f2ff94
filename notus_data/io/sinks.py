"""Sinks: where a pipeline's tables go.

A pipeline's batches end as a *main* table (the pairs, the flagged completions, the kept rows) and *side*
tables by name (``evidence``, ``flags``, ``changes``). A sink takes each batch's result in input order
(:meth:`Sink.write`), the last side rows the steps give after the last batch (:meth:`Sink.write_side`), and the
finished report (:meth:`Sink.close`, then :meth:`Sink.finalize` once its seconds are known).

- :class:`FileSink`: each stream to its own file beside the others (atomic, fixed row groups), the report as
  ``OUTPUT.report.json``;
- :class:`MemorySink`: every stream kept as an Arrow table, for library calls without an output path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from notus_data.io.atomic import AtomicWriter, atomic_path, write_report, write_table
from notus_data.io.paths import guard_outputs, output_kind, write_marker


class Sink:
    """Where a pipeline's tables go (the default: nowhere; the report and stats are still made).

    ``paths()`` are checked against the inputs before any work (:func:`~notus_data.io.paths.guard_outputs`).
    """

    command: str = "run"

    def paths(self) -> list[Any]:
        return []

    def check(self, inputs: Sequence[Any]) -> None:
        guard_outputs(self.command, self.paths(), inputs)

    def open(self) -> None:
        """Called once, before the first batch."""

    def write(self, result: Any) -> None:
        """One batch's :class:`~notus_data.pipeline.BatchResult`, in input order."""

    def write_side(self, name: str, table: pa.Table) -> None:
        """Rows a step adds to side table ``name`` after the last batch."""

    def close(self, report: Any, stats: dict[str, Any]) -> Any:
        """After the last batch: make the outputs appear; may return an in-memory result."""
        return None

    def abort(self) -> None:
        """After an error: remove everything written so far."""

    def finalize(self, report: Any) -> None:
        """After the run, with the report complete (its seconds too): e.g. write it beside the output."""


@dataclass(frozen=True)
class ShardWriter:
    """Where workers write the main output themselves (``ray_write="parallel"``): one parquet file per batch,
    ``part-<input position of the batch's first row, 12 digits>.parquet``, so the file names sort in input order.
    A retried task rewrites the same file (each file appears atomically)."""

    folder: str
    schema: pa.Schema

    def path(self, start: int) -> Path:
        return Path(self.folder) / f"part-{start:012d}.parquet"

    def __call__(self, table: pa.Table, start: int) -> None:
        if table.num_rows and Path(self.folder).is_dir():  # no folder: the run failed and was cleaned up
            write_table(table.cast(self.schema), self.path(start))


class FileSink(Sink):
    """Streams to files: ``main`` (None: not written, as in a dry run) and ``sides`` (name -> path), each through
    an :class:`~notus_data.io.atomic.AtomicWriter`; the report to ``report`` (JSON). ``schemas`` gives the
    schema of each stream (``main`` and the side names) so that an empty output is still a readable table.

    ``parallel=True`` (the Ray engine's ``ray_write="parallel"``): the main output is a folder that workers fill
    with parquet files themselves (:meth:`shard_writer`).
    """

    def __init__(
        self,
        command: str,
        *,
        main: str | os.PathLike | None,
        sides: dict[str, str | os.PathLike] | None = None,
        report: str | os.PathLike | None = None,
        schemas: dict[str, pa.Schema | None] | None = None,
        parallel: bool = False,
    ) -> None:
        self.command = command
        self.main, self.sides, self.report_file = main, dict(sides or {}), report
        self.schemas = dict(schemas or {})
        self.parallel = parallel
        self._stack = contextlib.ExitStack()
        self._writers: dict[str, AtomicWriter] = {}
        self._folder: Any = None
        if parallel and (main is None or output_kind(main) != "folder"):
            from notus_data.errors import OptionError

            raise OptionError(
                f"ray_write: 'parallel' writes a folder of parquet files, but {main} has an extension; give an "
                "output path without one, or use ray_write='driver' for a single file"
            )

    def paths(self) -> list[Any]:
        paths = [p for p in (self.main, *self.sides.values(), self.report_file) if p is not None]
        for path in paths:
            output_kind(path)  # a bad extension fails before any work
        return paths

    def open(self) -> None:
        for name, path in self.sides.items():
            self._writers[name] = self._stack.enter_context(
                AtomicWriter(path, self.schemas.get(name), command=self.command)
            )
        if self.main is None:
            return
        if self.parallel:
            self._folder = self._stack.enter_context(atomic_path(self.main))
            self._folder.mkdir()
            write_marker(self._folder, self.command)
        else:
            self._writers["main"] = self._stack.enter_context(
                AtomicWriter(self.main, self.schemas.get("main"), command=self.command)
            )

    def shard_writer(self) -> ShardWriter:
        return ShardWriter(str(self._folder.resolve()), self.schemas["main"])

    def write(self, result: Any) -> None:
        writer = self._writers.get("main")
        if writer is not None and result.main is not None:
            writer.write(result.main)
        for name, tables in result.side.items():
            side = self._writers.get(name)
            if side is not None:
                for table in tables:
                    side.write(table)

    def write_side(self, name: str, table: pa.Table) -> None:
        side = self._writers.get(name)
        if side is not None:
            side.write(table)

    def close(self, report: Any, stats: dict[str, Any]) -> Any:
        if self._folder is not None:
            files = len(list(self._folder.glob("part-*.parquet")))
            if not files:  # an empty result is still a readable (empty) table
                write_table(self.schemas["main"].empty_table(), self._folder / "part-000000000000.parquet")
            report.info.setdefault("engine", {})["write"] = f"parallel ({max(files, 1)} parquet files)"
        # Two phases: every output is finished in its temporary file first (a full disk fails here, and then
        # none appears); only then do they all move into place.
        for writer in self._writers.values():
            writer.close()
        self._stack.close()
        return None

    def abort(self) -> None:
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def finalize(self, report: Any) -> None:
        if self.report_file is not None:
            write_report(report, self.report_file)


class MemorySink(Sink):
    """Keeps every stream as one Arrow table: :meth:`close` returns ``{"main": table, side name: table}``."""

    command = "memory"

    def __init__(self, schemas: dict[str, pa.Schema | None] | None = None) -> None:
        self.schemas = dict(schemas or {})
        self._tables: dict[str, list[pa.Table]] = {}

    def write(self, result: Any) -> None:
        if result.main is not None:
            self._tables.setdefault("main", []).append(result.main)
        for name, tables in result.side.items():
            self._tables.setdefault(name, []).extend(tables)

    def write_side(self, name: str, table: pa.Table) -> None:
        self._tables.setdefault(name, []).append(table)

    def close(self, report: Any, stats: dict[str, Any]) -> dict[str, pa.Table]:
        out = {}
        for name in {*self._tables, *(n for n, s in self.schemas.items() if s is not None)}:
            tables = self._tables.get(name, [])
            schema = self.schemas.get(name) or (tables[0].schema if tables else None)
            if schema is None:
                continue
            out[name] = pa.concat_tables([t.cast(schema) for t in tables]) if tables else schema.empty_table()
        return out
