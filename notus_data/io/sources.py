"""Sources: where a pipeline's rows come from, read in batches that know their place in the input.

A source is opened from a Hub id (``datasets.load_dataset``, optionally streaming), a local file or folder (see
:mod:`notus_data.io.tables`), or an object in memory (a ``datasets.Dataset`` or ``IterableDataset``, a
``pyarrow.Table``, a ``pandas.DataFrame``). It yields :class:`SourceBatch` items: the input position of the
first row, the table, and the problems found while reading it. Two kinds:

- :class:`UltraFeedbackSource`: UltraFeedback-shaped rows, schema checked up front, normalized to the canonical
  table of :mod:`notus_data.schema` (only the nested fields the steps read);
- :class:`RowsSource`: the input's own rows, every column, as they are (decontaminating any table).

Local parquet inputs can also be cut into :class:`~notus_data.io.chunks.Chunk` items (:meth:`plan`) that any
process reads on its own (:meth:`read`), so that parallel engines read the input in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from notus_data.errors import NotusDataError, OptionError, check_numbers
from notus_data.io.chunks import Chunk, plan_chunks, read_chunk
from notus_data.io.paths import (
    DEFAULT_BATCH_SIZE,
    hub_unreachable,
    is_local,
    looks_like_hub_id,
    looks_like_path,
)
from notus_data.io.tables import TableSource, arrow_message, iter_dataset, parquet_schema, prefetch
from notus_data.io.text import repair_utf8
from notus_data.normalize import normalize_batch
from notus_data.report import Problems
from notus_data.schema import RawLayout, check_raw_schema, needed_columns

DEFAULT_HUB_ID = "openbmb/UltraFeedback"
#: The openbmb/UltraFeedback revision after the critique-score fix (RECIPE.md, section 1).
DEFAULT_REVISION = "40b436560ca83a8dba36114c22ab3c66e43f6d5e"


@dataclass
class SourceBatch:
    """A batch of a source: ``start`` is the input position of its first row."""

    start: int
    table: pa.Table
    problems: pa.Table | None = None


# ------------------------------------------------------------------------------------------------ readers


class Reader:
    """Raw batches of one input: ``batches(columns, batch_size)`` yields ``(origin, table, problems)``, where
    ``origin`` names the file (or data set) the batch came from and ``problems`` those met reading it (or None);
    ``columns`` maps top-level columns to the nested fields wanted (None: every column)."""

    origin: str
    revision: str | None = None
    num_rows: int | None = None
    kind: str = "memory"

    def schema(self) -> pa.Schema | None:
        raise NotImplementedError

    def batches(
        self, columns: dict[str, list[str]] | None, batch_size: int
    ) -> Iterator[tuple[str, pa.Table]]:
        raise NotImplementedError

    def parquet_files(self) -> list[Path] | None:
        """The files of a local parquet input, in reading order (None for any other input)."""
        return None


class LocalReader(Reader):
    def __init__(self, path: str | os.PathLike, split: str | None) -> None:
        self.origin = str(path)
        self.table = TableSource(Path(path), split=split)
        self.kind = "file" if self.table.path.is_file() else "folder"
        self.num_rows = self.table.num_rows

    def schema(self) -> pa.Schema:
        return self.table.schema()

    def batches(self, columns, batch_size):
        for origin, batch, problems in self.table.iter_batches(columns=columns, batch_size=batch_size):
            yield str(origin), batch, problems

    def parquet_files(self) -> list[Path] | None:
        return self.table.files if self.table.kind == "parquet" else None


class DatasetReader(Reader):
    """A ``datasets`` data set (from the Hub, or already in memory; streaming or not)."""

    def __init__(self, ds: Any, origin: str, revision: str | None = None, kind: str = "memory") -> None:
        self.ds, self.origin, self.revision, self.kind = ds, origin, revision, kind
        streaming = type(ds).__name__ == "IterableDataset"
        self.num_rows = None if streaming else ds.num_rows

    def schema(self) -> pa.Schema | None:
        return self.ds.features.arrow_schema if self.ds.features is not None else None

    def batches(self, columns, batch_size):
        for batch in iter_dataset(self.ds, list(columns) if columns else None, batch_size):
            yield self.origin, batch, None


class TableReader(Reader):
    """A ``pyarrow.Table`` (or a ``pandas.DataFrame``, converted once) in memory."""

    def __init__(self, table: pa.Table, origin: str) -> None:
        self.data, self.origin, self.num_rows = table, origin, table.num_rows

    def schema(self) -> pa.Schema:
        return self.data.schema

    def batches(self, columns, batch_size):
        table = self.data
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        for start in range(0, table.num_rows, batch_size):
            yield self.origin, table.slice(start, batch_size), None


def open_reader(
    input: Any, *, revision: str | None = None, split: str = "train", streaming: bool = False
) -> Reader:
    """A :class:`Reader` for any input a job accepts: a local path, a Hub id, or a data set / table in memory."""
    memory = in_memory(input)
    if memory is not None:
        return memory
    if not isinstance(input, (str, os.PathLike)):
        raise OptionError(
            f"input: a {type(input).__module__}.{type(input).__name__} is not an input; give a path, a Hub id "
            "(owner/name), a datasets.Dataset, a pyarrow.Table or a pandas.DataFrame"
        )
    if is_local(input):
        return LocalReader(input, split)
    name = os.fspath(input)
    if looks_like_path(name):
        raise NotusDataError(f"{name}: no such file or folder")
    if not looks_like_hub_id(name):
        raise NotusDataError(f"{name}: no such file or folder, and not a Hub id (owner/name)")
    return hub_reader(name, revision=revision, split=split, streaming=streaming)


def hub_reader(name: str, *, revision: str | None, split: str, streaming: bool) -> DatasetReader:
    """``datasets.load_dataset(name, ...)``: a Hub id (or anything ``load_dataset`` takes by name)."""
    import datasets

    if revision is None and name == DEFAULT_HUB_ID:
        revision = DEFAULT_REVISION
    offline = None if Path(name).exists() else hub_unreachable()
    if offline is not None:
        raise NotusDataError(
            f"{name}: the Hugging Face Hub cannot be reached ({offline}); give a local file or folder instead "
            "(e.g. a parquet copy of the data set), or set HF_HUB_OFFLINE=1 to read a copy datasets has cached"
        )
    try:
        ds = datasets.load_dataset(name, revision=revision, split=split, streaming=streaming)
    except Exception as exc:  # offline, not found, gated, bad revision: one clear line
        raise NotusDataError(
            f"could not load '{name}' (revision {revision or 'main'}, split {split}) with datasets: "
            f"{type(exc).__name__}: {arrow_message(exc)}"
        ) from exc
    return DatasetReader(ds, name, revision, kind="hub")


def in_memory(input: Any) -> Reader | None:
    """A reader for a data set or table held in memory, or None when ``input`` is not one."""
    kind = type(input).__module__.split(".")[0]
    if isinstance(input, pa.Table):
        return TableReader(input, "pyarrow.Table")
    if kind == "pandas" and type(input).__name__ == "DataFrame":
        try:
            table = pa.Table.from_pandas(input, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise NotusDataError(
                f"input: the DataFrame cannot be read as Arrow ({arrow_message(exc)})"
            ) from None
        return TableReader(table, "pandas.DataFrame")
    if kind == "datasets" and type(input).__name__ in ("Dataset", "IterableDataset"):
        return DatasetReader(input, f"datasets.{type(input).__name__}")
    if kind == "datasets" and type(input).__name__ in ("DatasetDict", "IterableDatasetDict"):
        raise OptionError(
            f"input: a {type(input).__name__} holds several splits ({', '.join(input)}); pass one, e.g. ds['train']"
        )
    return None


# ------------------------------------------------------------------------------------------------ sources


class _Source:
    """What both kinds share: the reader, planning parquet chunks, and the description for reports."""

    reader: Reader

    @property
    def origin(self) -> str:
        return self.reader.origin

    @property
    def revision(self) -> str | None:
        return self.reader.revision

    @property
    def num_rows(self) -> int | None:
        return self.reader.num_rows

    def describe(self) -> dict[str, Any]:
        return {"input": self.origin, "revision": self.revision, "rows": self.num_rows}

    def columns(self) -> dict[str, list[str]] | None:
        """What to read: top-level column -> nested fields (None: everything)."""
        return None

    def plan(self, batch_size: int) -> list[Chunk] | None:
        """Work items that any process can read on its own (:meth:`read`), or None where the input is not
        local parquet (it is then read in this process)."""
        files = self.reader.parquet_files()
        return None if files is None else plan_chunks(files, batch_size)

    def prepare(self, raw: pa.Table, start: int, origin: str) -> SourceBatch:
        return SourceBatch(start, raw)

    def _prepared(self, raw: pa.Table, start: int, origin: str, problems: pa.Table | None) -> SourceBatch:
        raw, bad_text = repair_utf8(raw, start)
        batch = self.prepare(raw, start, origin)
        found = [p for p in (problems, bad_text, batch.problems) if p is not None and p.num_rows]
        if found:
            batch.problems = pa.concat_tables(found).sort_by(
                [("row_index", "ascending"), ("field", "ascending")]
            )
        return batch

    def batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[SourceBatch]:
        """Every batch of the input, in order (invalid UTF-8 repaired and counted, see :mod:`.text`)."""
        start = 0
        for origin, raw, problems in self.reader.batches(self.columns(), batch_size):
            if raw.num_rows == 0:
                continue
            yield self._prepared(raw, start, origin, problems)
            start += raw.num_rows

    def read(self, chunk: Chunk, batch_size: int) -> Iterator[SourceBatch]:
        """The batches of one planned chunk (in a worker: reads only its row groups and columns)."""
        for start, raw in read_chunk(chunk, batch_size, self.columns()):
            yield self._prepared(raw, start, chunk.origin, None)


class UltraFeedbackSource(_Source):
    """UltraFeedback-shaped input, checked up front and read as canonical batches (see :mod:`notus_data.schema`).

    ``with_critique``: also read each completion's critique text (flagging and review need it). ``layout`` is
    the input's :class:`~notus_data.schema.RawLayout`, known before any row is read (for JSON lines, from the
    first block), else from the first batch.
    """

    def __init__(self, reader: Reader, *, with_critique: bool = False) -> None:
        self.reader = reader
        self.with_critique = with_critique
        self.problems = Problems()  # filled by iter_batches
        schema = reader.schema()
        self.layout: RawLayout | None = (
            check_raw_schema(schema, reader.origin) if schema is not None else None
        )
        self._layouts: dict[str, RawLayout] = {}
        # Every parquet shard is checked from its footer before any row is read, with its whole schema (not the
        # projected columns, where a column of the wrong type would look missing).
        for file in reader.parquet_files() or ():
            self._layouts[str(file)] = check_raw_schema(parquet_schema(file), str(file))

    def columns(self) -> dict[str, list[str]]:
        return needed_columns(with_critique=self.with_critique)

    def prepare(self, raw: pa.Table, start: int, origin: str) -> SourceBatch:
        layout = self._layouts.get(origin)
        if layout is None:
            layout = self._layouts[origin] = check_raw_schema(raw.schema, origin)
            if self.layout is None:
                self.layout = layout
        table, problems = normalize_batch(raw, layout, row_offset=start, with_critique=self.with_critique)
        return SourceBatch(start, table, problems)

    def iter_batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[pa.Table]:
        """Canonical tables, the next one read in the background; ``row_index`` counts rows from the start of
        the input, and the problems met are added to :attr:`problems`."""
        for batch in prefetch(self.batches(batch_size)):
            self.problems.add(batch.problems)
            yield batch.table


class RowsSource(_Source):
    """The input's own rows, every column, unchanged (what ``decontaminate`` reads)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.schema = reader.schema()


@dataclass
class LoadOptions:
    """Where the input comes from and how it is read. Every field is also a CLI option of the same name."""

    revision: str | None = field(
        default=None,
        metadata={
            "help": f"Hub revision (default for {DEFAULT_HUB_ID}: the fixed {DEFAULT_REVISION[:10]}...)"
        },
    )
    split: str = field(default="train", metadata={"help": "split to read (Hub ids and multi-split folders)"})
    streaming: bool = field(
        default=False, metadata={"help": "stream a Hub data set instead of downloading it"}
    )
    batch_size: int = field(
        default=DEFAULT_BATCH_SIZE, metadata={"help": "rows per batch (does not change the output)"}
    )

    def __post_init__(self) -> None:
        check_numbers(self)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise OptionError(f"batch_size: {self.batch_size!r} must be an integer >= 1")


def load_ultrafeedback(
    input: Any = DEFAULT_HUB_ID,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    with_critique: bool = False,
) -> UltraFeedbackSource:
    """Open UltraFeedback-shaped data: a Hub id, a local file or folder in the same schema, or a data set or
    table in memory.

    The schema is checked before any row is read (for JSON lines, on the first block). From parquet only the
    fields the steps use are read (the critique only when ``with_critique``).

    Args:
        input: ``openbmb/UltraFeedback`` (the default), another Hub id, a local .parquet / .jsonl / .json file,
            a folder of parquet shards, a ``save_to_disk`` folder, or a ``datasets.Dataset``, ``pyarrow.Table``
            or ``pandas.DataFrame``.
        revision: Hub revision; for ``openbmb/UltraFeedback`` it defaults to the fixed revision
            :data:`DEFAULT_REVISION`.
        split: the split to read (Hub and multi-split folders).
        streaming: read the Hub data set as a stream instead of downloading it first.
        with_critique: also read each completion's critique text (flagging and review need it).
    """
    reader = open_reader(input, revision=revision, split=split, streaming=streaming)
    return UltraFeedbackSource(reader, with_critique=with_critique)


def from_hub(
    repo_id: str,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    with_critique: bool = False,
) -> UltraFeedbackSource:
    """UltraFeedback-shaped data read with ``datasets.load_dataset`` (a Hub id, or anything it accepts by name,
    a local folder laid out like a Hub repository included)."""
    reader = hub_reader(str(repo_id), revision=revision, split=split, streaming=streaming)
    return UltraFeedbackSource(reader, with_critique=with_critique)


def load_rows(
    input: Any, *, revision: str | None = None, split: str = "train", streaming: bool = False
) -> RowsSource:
    """Open any table (local, Hub or in memory) to be read as it is, every column."""
    return RowsSource(open_reader(input, revision=revision, split=split, streaming=streaming))


def input_paths(inputs: Sequence[Any]) -> list[str]:
    """The local paths among ``inputs`` (objects in memory and Hub ids are left out)."""
    return [os.fspath(i) for i in inputs if isinstance(i, (str, os.PathLike)) and is_local(i)]
