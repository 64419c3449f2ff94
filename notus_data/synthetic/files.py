"""The generator's public entry points: batches, and parquet and JSON Lines files written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.errors import OptionError
from notus_data.synthetic.params import BLOCK_ROWS
from notus_data.synthetic.rows import _BlockMaker
from notus_data.synthetic.schema import raw_schema

# ------------------------------------------------------------------------------------------------ public API


def _check(n_rows: int, seed: int, batch_size: int, batch_name: str = "batch_size") -> None:
    for name, value, least in (("n_rows", n_rows, 0), ("seed", seed, 0), (batch_name, batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise OptionError(f"{name} must be an integer >= {least}, got {value!r}")


def generate(
    n_rows: int,
    *,
    seed: int = 0,
    edge_cases: bool = True,
    batch_size: int = 2048,
    aspect_as_list: bool = False,
    drop_fine_grained: bool = False,
) -> Iterator[pa.Table]:
    """Yield ``n_rows`` synthetic UltraFeedback rows as tables of ``batch_size`` rows (the last one smaller).

    Each table has the schema ``raw_schema(aspect_as_list=..., drop_fine_grained=...)`` (:data:`RAW_SCHEMA` by
    default) and contiguous (single-chunk) columns. Row ``i`` depends only on ``(seed, i)`` and the switches.
    Memory holds about one batch. Raises :class:`~notus_data.errors.OptionError` on a negative count or seed.
    """
    _check(n_rows, seed, batch_size)
    maker = _BlockMaker(int(seed), edge_cases, aspect_as_list, drop_fine_grained)
    pending: list[pa.Table] = []
    pending_rows = 0
    for block_index in range(math.ceil(n_rows / BLOCK_ROWS)):
        table = maker.make(block_index)
        pending.append(table.slice(0, n_rows - block_index * BLOCK_ROWS))
        pending_rows += pending[-1].num_rows
        while pending_rows >= batch_size:
            whole = pa.concat_tables(pending)
            yield whole.slice(0, batch_size).combine_chunks()
            pending, pending_rows = [whole.slice(batch_size)], pending_rows - batch_size
    if pending_rows:
        yield pa.concat_tables(pending).combine_chunks()


class _AtomicFile:
    """A temporary file beside ``path`` that replaces ``path`` on success and is removed on failure."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __enter__(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it the usual mode
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)


def write_parquet(
    path: str | os.PathLike,
    n_rows: int,
    *,
    seed: int = 0,
    edge_cases: bool = True,
    row_group_size: int = 2048,
    aspect_as_list: bool = False,
    drop_fine_grained: bool = False,
    compression: str = "snappy",
) -> Path:
    """Write ``n_rows`` synthetic rows to a parquet file, a row group at a time.

    ``compression`` is pyarrow's (its default, snappy, is what the Hub's parquet files use; "zstd" makes a
    file about 40% smaller). The file appears atomically; the same arguments give the same bytes (with the same
    pyarrow). Returns the path.
    """
    _check(n_rows, seed, row_group_size, "row_group_size")
    schema = raw_schema(aspect_as_list=aspect_as_list, drop_fine_grained=drop_fine_grained)
    batches = generate(n_rows, seed=seed, edge_cases=edge_cases, batch_size=row_group_size,
                       aspect_as_list=aspect_as_list, drop_fine_grained=drop_fine_grained)  # fmt: skip
    with _AtomicFile(path) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as writer:
        for batch in batches:
            writer.write_table(batch, row_group_size=row_group_size)
    return Path(path)


def _json_row(row: dict) -> str:
    for completion in row["completions"]:
        score = completion.get("fine-grained_score") if completion else None
        if score is not None and math.isnan(score):
            completion["fine-grained_score"] = None  # JSON has no NaN
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_jsonl(
    path: str | os.PathLike,
    n_rows: int,
    *,
    seed: int = 0,
    edge_cases: bool = True,
    batch_size: int = 2048,
    aspect_as_list: bool = False,
    drop_fine_grained: bool = False,
) -> Path:
    """Write ``n_rows`` synthetic rows as JSON Lines (UTF-8, keys in schema order), a batch at a time.

    The rows of :func:`write_parquet`, except that a NaN ``fine-grained_score`` (a completion with no usable
    rating) is written as null, JSON having no NaN. The file appears atomically. Returns the path.
    """
    _check(n_rows, seed, batch_size)
    batches = generate(n_rows, seed=seed, edge_cases=edge_cases, batch_size=batch_size,
                       aspect_as_list=aspect_as_list, drop_fine_grained=drop_fine_grained)  # fmt: skip
    with _AtomicFile(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        for batch in batches:
            out.writelines(_json_row(row) for row in batch.to_pylist())
    return Path(path)
