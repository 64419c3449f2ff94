"""Open a pairs set (a local file or folder, a Hub id, a table in memory) as batches of the ``pairs`` source.

The rows are read by :func:`notus_data.sources.pairs.read_pairs`; the format is detected from the columns.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from notus_data.formats.read import detect_format
from notus_data.io.sources import SourceBatch, _Source, open_reader
from notus_data.sources.pairs import PAIRS_SCHEMA, read_pairs


class PairsSource(_Source):
    """A pairs set read as :data:`PAIRS_SCHEMA` batches; its format is detected from its columns before any
    row is read where the schema is known (else from the first batch)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.schema = PAIRS_SCHEMA
        known = reader.schema()
        self.format = detect_format(known, where=reader.origin) if known is not None else None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "format": self.format}

    def prepare(self, raw: pa.Table, start: int, origin: str) -> SourceBatch:
        if self.format is None:
            self.format = detect_format(raw.schema, where=origin)
        return SourceBatch(start, read_pairs(raw, self.format, start))


def load_pairs(
    input: Any, *, revision: str | None = None, split: str = "train", streaming: bool = False
) -> PairsSource:
    """Open a pairs set (a local file or folder, a Hub id, or a table in memory) as a :class:`PairsSource`."""
    return PairsSource(open_reader(input, revision=revision, split=split, streaming=streaming))
