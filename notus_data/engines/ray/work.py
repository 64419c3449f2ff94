"""What a Ray worker does with one work item, and how its results travel back to the driver.

A work item is either a parquet :class:`~notus_data.io.chunks.Chunk` (the worker reads it through the pipeline's
source, only the columns its steps read, normalized with the chunk's row offset) or a batch the driver read
itself (inputs that are not parquet). Either way the worker runs the pipeline's steps on each batch
(:meth:`notus_data.pipeline.Work.process`) and returns one result row per batch (:data:`RESULT_SCHEMA`):

    start    input position of the batch's first row (the driver orders results by it)
    rows     number of input rows the batch covers
    payload  the pickled :class:`~notus_data.pipeline.BatchResult` (tables, partial report, stats), with its
             main table left out where the worker wrote it to a :class:`ShardWriter` file itself
    error    a pickled :class:`~notus_data.errors.NotusDataError` where the batch could not be processed (bad
             schema, unreadable file); the driver raises it when it reaches that position, as the local engine
             would have.

The pipeline's work (source and set-up steps) is put in the object store once by the driver; each worker
process fetches it once (:func:`shared`) and reuses it for every task. Nothing here imports Ray at module level:
these are the functions Ray runs, and they can be tested on their own.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from notus_data.errors import NotusDataError
from notus_data.io.chunks import Chunk
from notus_data.io.sinks import ShardWriter

RESULT_SCHEMA = pa.schema(
    [
        ("start", pa.int64()),
        ("rows", pa.int64()),
        ("payload", pa.large_binary()),
        ("error", pa.large_binary()),
    ]
)


# ------------------------------------------------------------------------------------------- result rows


def _binary(data: bytes | None) -> pa.Array:
    return pa.array([data], pa.large_binary())


def result_row(start: int, rows: int, result: Any = None, error: Exception | None = None) -> pa.Table:
    """One result (or error) as a one-row table of :data:`RESULT_SCHEMA`."""
    return pa.Table.from_arrays(
        [
            pa.array([start], pa.int64()),
            pa.array([rows], pa.int64()),
            _binary(None if result is None else pickle.dumps(result, protocol=5)),
            _binary(None if error is None else pickle.dumps(error)),
        ],
        schema=RESULT_SCHEMA,
    )


@dataclass
class Result:
    """A result row, unpacked on the driver: the batch's result, or the error met at ``start``."""

    start: int
    rows: int
    result: Any
    error: NotusDataError | None


def unpack(results: pa.Table) -> Iterator[Result]:
    """The result rows of one block, decoded."""
    starts = results.column("start").to_pylist()
    rows = results.column("rows").to_pylist()
    payloads, errors = results.column("payload"), results.column("error")
    for i in range(results.num_rows):
        payload, error = payloads[i], errors[i]
        yield Result(
            start=starts[i],
            rows=rows[i],
            result=pickle.loads(payload.as_py()) if payload.is_valid else None,
            error=pickle.loads(error.as_py()) if error.is_valid else None,
        )


# ------------------------------------------------------------------------------------------- worker side

_SHARED: dict[str, Any] = {}


def shared(value: Any) -> Any:
    """The object behind a Ray object reference, fetched once per process; any other value as it is."""
    try:
        import ray
    except ImportError:
        return value
    if not isinstance(value, ray.ObjectRef):
        return value
    key = value.hex()
    if key not in _SHARED:
        _SHARED.clear()  # one pipeline at a time: a long-lived worker does not keep old runs' state
        _SHARED[key] = ray.get(value)
    return _SHARED[key]


def _emit(work: Any, batch: Any, shards: ShardWriter | None) -> pa.Table:
    result = work.process(batch)
    if shards is not None and result.main is not None:
        shards(result.main, result.start)
        result.main = None
    return result_row(result.start, result.rows, result)


def process_chunk(
    item: dict, work: Any, batch_size: int, shards: ShardWriter | None = None
) -> Iterator[pa.Table]:
    """Read one parquet chunk through the pipeline's source and run its steps; one result row per batch."""
    chunk = Chunk.from_item(item)
    position = chunk.start
    try:
        for batch in work.source.read(chunk, batch_size):
            position = batch.start
            yield _emit(work, batch, shards)
            position = batch.start + batch.table.num_rows  # where an error met while reading on is reported
    except NotusDataError as exc:
        yield result_row(position, 0, error=exc)


def process_sent(payload: bytes, work: Any, shards: ShardWriter | None = None) -> Iterator[pa.Table]:
    """Run the steps on a batch the driver read and sent (a pickled :class:`~notus_data.io.sources.SourceBatch`)."""
    batch = pickle.loads(payload)
    try:
        yield _emit(work, batch, shards)
    except NotusDataError as exc:
        yield result_row(batch.start, 0, error=exc)


# ------------------------------------------------------------------------------------ Ray map functions


def map_chunks(
    items: pa.Table, work: Any, batch_size: int, shards: ShardWriter | None = None
) -> Iterator[pa.Table]:
    """``map_batches`` function over a table of chunk items (see :meth:`Chunk.to_item`)."""
    work = shared(work)
    for item in items.to_pylist():
        yield from process_chunk(item, work, batch_size, shards)


def map_sent(items: pa.Table, work: Any, shards: ShardWriter | None = None) -> Iterator[pa.Table]:
    """``map_batches`` function over batches the driver read (column ``payload``)."""
    work = shared(work)
    for payload in items.column("payload").to_pylist():
        yield from process_sent(payload, work, shards)


def sent_items(batches: list[Any]) -> list[dict[str, Any]]:
    """Driver-read batches as plain items for ``ray.data.from_items``."""
    return [{"start": np.int64(b.start), "payload": pickle.dumps(b, protocol=5)} for b in batches]
