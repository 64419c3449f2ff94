"""Cut parquet inputs into work items: runs of row groups, each with the input position of its first row.

Only the parquet footers are read (on the driver), so planning costs a few kilobytes a file whatever the data
size. Each :class:`Chunk` knows ``start``, the ``row_index`` of its first row in the whole input (files in the
order the local engine reads them), so a worker can number its rows and name them in problems exactly as the
local engine does, without seeing any other chunk.

>>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.parquet")
>>> pq.write_table(pa.table({"a": list(range(10))}), path, row_group_size=4)
>>> [(c.row_groups, c.start, c.rows) for c in plan_chunks([path], target_rows=8)]
[((0, 1), 0, 8), ((2,), 8, 2)]
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.errors import InputError, SchemaError, os_error
from notus_data.io.tables import projected_paths


@dataclass(frozen=True)
class Chunk:
    """Consecutive row groups of one parquet file: the unit of work of one task.

    ``path`` is absolute (workers may run in another directory, or on another machine with the same mount);
    ``origin`` is the file as the local engine names it in messages.
    """

    path: str
    row_groups: tuple[int, ...]
    start: int
    rows: int
    origin: str = ""

    def to_item(self) -> dict:
        """The chunk as a plain row (for ``ray.data.from_items``)."""
        return {
            "path": self.path,
            "row_groups": list(self.row_groups),
            "start": self.start,
            "rows": self.rows,
            "origin": self.origin,
        }

    @classmethod
    def from_item(cls, item: dict) -> Chunk:
        return cls(
            str(item["path"]),
            tuple(int(g) for g in item["row_groups"]),
            int(item["start"]),
            int(item["rows"]),
            str(item["origin"]),
        )


def parquet_metadata(path: str | os.PathLike) -> pq.FileMetaData:
    """The footer of a parquet file; a file that is not parquet raises a :class:`SchemaError` naming it."""
    try:
        return pq.ParquetFile(path).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise SchemaError(f"{path}: not a readable parquet file ({first_line})") from exc


def plan_chunks(files: Sequence[str | os.PathLike], target_rows: int) -> list[Chunk]:
    """Group each file's row groups into chunks of about ``target_rows`` rows, in input order.

    A chunk never spans two files; a row group bigger than ``target_rows`` is a chunk of its own (its task reads
    it in batches of ``target_rows``). Empty row groups are skipped. The chunks cover every row exactly once:
    ``chunks[i + 1].start == chunks[i].start + chunks[i].rows``.
    """
    if target_rows < 1:
        raise ValueError(f"target_rows must be >= 1, got {target_rows}")
    chunks: list[Chunk] = []
    start = 0
    for file in files:
        metadata = parquet_metadata(file)
        path, origin = str(Path(file).resolve()), str(file)
        groups: list[int] = []
        rows = 0
        for group in range(metadata.num_row_groups):
            n = metadata.row_group(group).num_rows
            if n == 0:
                continue
            if groups and rows + n > target_rows:
                chunks.append(Chunk(path, tuple(groups), start, rows, origin))
                start, groups, rows = start + rows, [], 0
            groups.append(group)
            rows += n
        if groups:
            chunks.append(Chunk(path, tuple(groups), start, rows, origin))
            start += rows
    return chunks


def read_chunk(
    chunk: Chunk, batch_size: int, columns: dict[str, list[str]] | None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(start, raw batch)`` for a chunk, reading only ``columns`` (None: all)."""
    start = chunk.start
    try:
        pf = pq.ParquetFile(chunk.path, pre_buffer=False)
        paths = projected_paths(pf, columns)
        for batch in pf.iter_batches(batch_size=batch_size, row_groups=list(chunk.row_groups), columns=paths):
            if batch.num_rows:
                yield start, pa.Table.from_batches([batch])
                start += batch.num_rows
    except PermissionError as exc:
        raise os_error(exc, chunk.origin, "read", InputError) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{chunk.origin}: cannot read row group(s) {list(chunk.row_groups)}: the file is damaged "
            f"({first_line}); write it again, or leave it out"
        ) from exc
    if start != chunk.start + chunk.rows:
        raise SchemaError(
            f"{chunk.origin}: row group(s) {list(chunk.row_groups)} held {start - chunk.start} rows, "
            f"not the {chunk.rows} its footer announced; did the file change during the run?"
        )
