"""Sources beyond UltraFeedback: any input read through a source format of :mod:`notus_data.sources`.

:func:`load_source` opens an input (a Hub id, a local file or folder, a data set or table in memory), names its
format (``source_format``, or detected from its columns) and returns an
:class:`~notus_data.io.sources.UltraFeedbackSource` for UltraFeedback-shaped data or a :class:`FormatSource` for
the others. A :class:`FormatSource` yields canonical batches with ``prompt_messages`` and ``source_score``.

Formats with one row per response (``helpsteer2``, ``columns`` with ``response=``) are read twice: a first pass
over the prompt column alone builds the group index (which prompt each row belongs to, and where each prompt's
last row is), and the second pass gives each prompt out as soon as its last row is read, in order of first
appearance. Memory holds the index (a number per row) and the rows of incomplete prompts only; the output never
depends on the batch size. These inputs are read in this process (no parallel chunks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from notus_data.errors import SchemaError
from notus_data.io.chunks import Chunk
from notus_data.io.paths import DEFAULT_BATCH_SIZE
from notus_data.io.sources import Reader, SourceBatch, UltraFeedbackSource, _Source, open_reader
from notus_data.io.tables import parquet_schema
from notus_data.io.text import repair_utf8
from notus_data.report import Problems
from notus_data.sources import detect, make
from notus_data.sources.base import SOURCE_SCHEMA, Grouper, GroupIndex, join_problems
from notus_data.sources.format import SourceFormat


class FormatSource(_Source):
    """An input in one of the :mod:`notus_data.sources` formats, read as canonical batches."""

    def __init__(self, reader: Reader, fmt: SourceFormat) -> None:
        self.reader = reader
        self.format = fmt
        self.problems = Problems()
        self.given_columns = set(SOURCE_SCHEMA.names)
        self._checked: set[str] = set()
        schema = reader.schema()
        if schema is not None:
            fmt.check(schema, reader.origin)
        for file in reader.parquet_files() or ():
            fmt.check(parquet_schema(file), str(file))
            self._checked.add(str(file))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source_format": self.format.name}

    def columns(self) -> dict[str, list[str]] | None:
        wanted = self.format.columns()
        return None if wanted is None else {c: [] for c in wanted}

    def _check(self, raw: pa.Table, origin: str) -> None:
        if origin not in self._checked:
            self.format.check(raw.schema, origin)
            self._checked.add(origin)

    def prepare(self, raw: pa.Table, start: int, origin: str) -> SourceBatch:
        self._check(raw, origin)
        table, problems = self.format.prepare(raw, start)
        return SourceBatch(start, table, problems)

    def plan(self, batch_size: int) -> list[Chunk] | None:
        return None if self.format.grouped else super().plan(batch_size)

    def batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[SourceBatch]:
        if not self.format.grouped:
            yield from super().batches(batch_size)
            return
        yield from self._grouped(batch_size)

    def _grouped(self, batch_size: int) -> Iterator[SourceBatch]:
        column = self.format.prompt_column

        def prompts() -> Iterator[pa.Array]:
            start = 0
            for origin, raw, _ in self.reader.batches({column: []}, batch_size):
                if column not in raw.column_names:
                    raise SchemaError(
                        f"{origin}: column '{column}' is missing; the {self.format.name} source needs it"
                    )
                raw, _ = repair_utf8(raw.select([column]), start)
                start += raw.num_rows
                yield raw.column(column).combine_chunks().cast(pa.string())

        grouper = Grouper(GroupIndex.build(prompts()))
        read = 0
        waiting: list[pa.Table] = []
        for origin, raw, problems in self.reader.batches(self.columns(), batch_size):
            if raw.num_rows == 0:
                continue
            self._check(raw, origin)
            raw, bad_text = repair_utf8(raw, read)
            rows, found = self.format.responses(raw, read)
            waiting += [p for p in (problems, bad_text, found) if p is not None and p.num_rows]
            read += raw.num_rows
            done = grouper.add(rows, read)
            if done is not None and done.num_rows:
                table = self.format.assemble(done)
                yield SourceBatch(int(table.column("row_index")[0].as_py()), table, join_problems(waiting))
                waiting = []
        if grouper.pending:  # cannot happen: every prompt's last row has been read
            raise AssertionError("rows of an incomplete prompt were left")
        if waiting:  # problems of rows read after the last prompt was given out (none in practice)
            self.problems.add(join_problems(waiting))


def load_source(
    input: Any,
    *,
    source_format: str | None = None,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    with_critique: bool = False,
    **format_options: Any,
) -> UltraFeedbackSource | FormatSource:
    """Open ``input`` in its source format (``source_format``, or the one its columns show; see
    :func:`notus_data.sources.detect`). ``format_options`` go to the format (``aspects``, ``weights``, ``columns``,
    ``higher_is_better``)."""
    reader = open_reader(input, revision=revision, split=split, streaming=streaming)
    name = source_format or source_format_of(reader)
    if name == "ultrafeedback":
        return UltraFeedbackSource(reader, with_critique=with_critique)
    return FormatSource(reader, make(name, **format_options))


def source_format_of(reader: Reader) -> str:
    """The format of a reader's input, from its schema (or its first batch where the schema is not known)."""
    schema = reader.schema()
    if schema is None:
        for _, raw, _ in reader.batches(None, 16):
            schema = raw.schema
            break
    if schema is None:
        raise SchemaError(
            f"{reader.origin}: the input has no rows to tell its format; name it with --source-format"
        )
    return detect(schema.names, reader.origin)
