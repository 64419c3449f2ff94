"""What a worker does with one work item, and how the driver puts the results back together.

A work item is either a parquet :class:`~notus_data.engine.plan.Chunk` (the worker reads it, keeping only the
columns the step declares, and prepares it, e.g. normalizes it with the chunk's row offset) or a batch the driver
read and prepared itself (inputs that are not parquet). Either way the worker runs a :class:`Step` on each batch
and returns one result row per batch (:data:`RESULT_SCHEMA`):

    start   row_index of the batch's first input row (the driver orders results by it)
    rows    number of input rows the batch covers
    tables  the step's outputs (pairs; or kept rows and evidence), each an Arrow IPC stream (null for an
            output the worker wrote to a :class:`ShardWriter` file itself)
    report  the batch's partial :class:`~notus_data.report.Report` (pickled): counts, dropped rows by reason,
            problems (with the first examples), step sections
    error   a pickled :class:`~notus_data.errors.NotusDataError` where the batch could not be processed (bad
            schema, unreadable file); the driver raises it when it reaches that position, as the local engine
            would have.

Nothing here imports Ray: these are the functions Ray runs, and they can be tested on their own.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.engine.plan import Chunk
from notus_data.errors import NotusDataError, SchemaError
from notus_data.io import projected_paths, write_table
from notus_data.report import MAX_PROBLEM_EXAMPLES, Report

RESULT_SCHEMA = pa.schema(
    [
        ("start", pa.int64()),
        ("rows", pa.int64()),
        ("tables", pa.list_(pa.large_binary())),
        ("report", pa.large_binary()),
        ("error", pa.large_binary()),
    ]
)
#: Column the driver adds to the batches it reads itself: the input position of each row.
ROW_COLUMN = "__notus_row"


class Step(Protocol):
    """A pure step over batches, as the engines run it.

    ``columns``: what to read from parquet (top-level column -> nested fields, see
    :func:`notus_data.schema.needed_columns`), or None for every column.
    ``prepare(raw, start, origin)``: a raw input batch -> (the table the step takes, problems table or None).
    ``__call__(table, start)``: -> (output tables, the batch's partial report).
    """

    command: str

    @property
    def columns(self) -> dict[str, list[str]] | None: ...

    def prepare(self, raw: pa.Table, start: int, origin: str) -> tuple[pa.Table, pa.Table | None]: ...

    def __call__(self, table: pa.Table, start: int) -> tuple[tuple[pa.Table, ...], Report]: ...


@dataclass(frozen=True)
class ShardWriter:
    """Where workers write an output themselves (``ray_write="parallel"``): one parquet file per batch,
    ``part-<row_index of the batch's first input row, 12 digits>.parquet``, so the file names sort in input
    order. A retried task rewrites the same file (each file appears atomically)."""

    folder: str
    schema: pa.Schema

    def path(self, start: int) -> Path:
        return Path(self.folder) / f"part-{start:012d}.parquet"

    def __call__(self, table: pa.Table, start: int) -> None:
        if table.num_rows and Path(self.folder).is_dir():  # no folder: the run failed and was cleaned up
            write_table(table.cast(self.schema), self.path(start))


# ------------------------------------------------------------------------------------------- result rows


def _binary(data: bytes | pa.Buffer | None) -> pa.Array:
    if data is None:
        return pa.nulls(1, pa.large_binary())
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, buffer.size], dtype=np.int64).tobytes())
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])


def to_ipc(table: pa.Table) -> pa.Buffer:
    """A table as one Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(buffer: pa.Buffer) -> pa.Table:
    return pa.ipc.open_stream(buffer).read_all()


def result_row(
    start: int,
    rows: int,
    tables: tuple[pa.Table | None, ...] | None,
    part: Report | None,
    error: Exception | None = None,
) -> pa.Table:
    """One result as a one-row table of :data:`RESULT_SCHEMA` (a None table: written elsewhere)."""
    if tables is None:
        packed = pa.nulls(1, RESULT_SCHEMA.field("tables").type)
    else:
        values = [_binary(None if t is None else to_ipc(t)) for t in tables]
        flat = pa.concat_arrays(values) if values else pa.array([], pa.large_binary())
        packed = pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), flat)
    return pa.Table.from_arrays(
        [
            pa.array([start], pa.int64()),
            pa.array([rows], pa.int64()),
            packed,
            _binary(None if part is None else pickle.dumps(part)),
            _binary(None if error is None else pickle.dumps(error)),
        ],
        schema=RESULT_SCHEMA,
    )


@dataclass
class Result:
    """A result row, unpacked on the driver."""

    start: int
    rows: int
    tables: tuple[pa.Table | None, ...]
    report: Report | None
    error: NotusDataError | None


def unpack(results: pa.Table) -> Iterator[Result]:
    """The result rows of one block, decoded."""
    starts = results.column("start").to_pylist()
    rows = results.column("rows").to_pylist()
    tables, reports, errors = (results.column(name) for name in ("tables", "report", "error"))
    for i in range(results.num_rows):
        packed, report, error = tables[i], reports[i], errors[i]
        yield Result(
            start=starts[i],
            rows=rows[i],
            tables=tuple(from_ipc(t.as_buffer()) if t.is_valid else None for t in packed.values)
            if packed.is_valid
            else (),
            report=pickle.loads(report.as_py()) if report.is_valid else None,
            error=pickle.loads(error.as_py()) if error.is_valid else None,
        )


# ------------------------------------------------------------------------------------------- worker side


def read_chunk(
    chunk: Chunk, batch_size: int, columns: dict[str, list[str]] | None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(start, raw batch)`` for a chunk, reading only ``columns`` (None: all)."""
    start = chunk.start
    try:
        pf = pq.ParquetFile(chunk.path)
        paths = projected_paths(pf, columns)
        for batch in pf.iter_batches(batch_size=batch_size, row_groups=list(chunk.row_groups), columns=paths):
            if batch.num_rows:
                yield start, pa.Table.from_batches([batch])
                start += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise SchemaError(
            f"{chunk.origin}: cannot read row group(s) {list(chunk.row_groups)} ({first_line})"
        ) from exc
    if start != chunk.start + chunk.rows:
        raise SchemaError(
            f"{chunk.origin}: row group(s) {list(chunk.row_groups)} held {start - chunk.start} rows, "
            f"not the {chunk.rows} its footer announced; did the file change during the run?"
        )


def _emit(
    step: Step, table: pa.Table, start: int, rows: int, problems: pa.Table | None, shards: ShardWriter | None
) -> pa.Table:
    outputs, part = step(table, start)
    if problems is not None:
        part.problems.add(problems)
    if shards is not None:
        shards(outputs[0], start)
        outputs = (None, *outputs[1:])
    return result_row(start, rows, outputs, part)


def process_chunk(
    item: dict, step: Step, batch_size: int, shards: ShardWriter | None = None
) -> Iterator[pa.Table]:
    """Read, prepare and run ``step`` on one parquet chunk; one result row per batch."""
    chunk = Chunk.from_item(item)
    position = chunk.start
    try:
        for start, raw in read_chunk(chunk, batch_size, step.columns):
            position = start
            table, problems = step.prepare(raw, start, chunk.origin)
            yield _emit(step, table, start, raw.num_rows, problems, shards)
            position = start + raw.num_rows  # where an error met while reading on is reported
    except NotusDataError as exc:
        yield result_row(position, 0, None, None, exc)


def process_prepared(batch: pa.Table, step: Step, shards: ShardWriter | None = None) -> Iterator[pa.Table]:
    """Run ``step`` on batches the driver prepared (with :data:`ROW_COLUMN`); one result row per run of
    consecutive input positions."""
    if batch.num_rows == 0:
        return
    rows = batch.column(ROW_COLUMN).to_numpy()
    batch = batch.drop_columns(ROW_COLUMN)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(rows) != 1) + 1, [batch.num_rows]])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        start = int(rows[a])
        try:
            yield _emit(step, batch.slice(a, b - a), start, b - a, None, shards)
        except NotusDataError as exc:
            yield result_row(start, 0, None, None, exc)
            return


def with_rows(table: pa.Table, start: int) -> pa.Table:
    """``table`` with :data:`ROW_COLUMN` (input positions from ``start``), for :func:`process_prepared`."""
    return table.append_column(ROW_COLUMN, pa.array(np.arange(start, start + table.num_rows, dtype=np.int64)))


# ------------------------------------------------------------------------------------ Ray map functions


def map_chunks(
    items: pa.Table, step: Step, batch_size: int, shards: ShardWriter | None = None
) -> Iterator[pa.Table]:
    """``map_batches`` function over a table of chunk items (see :meth:`Chunk.to_item`)."""
    for item in items.to_pylist():
        yield from process_chunk(item, step, batch_size, shards)


def map_prepared(batch: pa.Table, step: Step, shards: ShardWriter | None = None) -> Iterator[pa.Table]:
    """``map_batches`` function over batches the driver read and prepared."""
    yield from process_prepared(batch, step, shards)


# ------------------------------------------------------------------------------------------- driver side


def merge_report(total: Report, part: Report) -> None:
    """Add a batch's partial report to the run's report (parts must come in input order, for the examples)."""
    total.rows_in += part.rows_in
    total.rows_with_pairs += part.rows_with_pairs
    total.rows_out += part.rows_out
    total.dropped.update(part.dropped)
    for source, counts in part.dropped_by_source.items():
        total.dropped_by_source.setdefault(source, type(counts)()).update(counts)
    total.problems.counts.update(part.problems.counts)
    room = MAX_PROBLEM_EXAMPLES - len(total.problems.examples)
    if room > 0:
        total.problems.examples.extend(part.problems.examples[:room])
    for name, counts in part.steps.items():
        total.add_step(name, counts)
