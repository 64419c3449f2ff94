"""Splitting the pairs and writing them as Hub-ready parquet shards.

The split of a pair depends on its prompt alone, never on row order or batch size::

    key(prompt) = first 8 bytes of sha256("notus-data-split:{seed}:{prompt_id}") as an unsigned integer

The test split takes the ``n_test`` distinct prompts with the smallest keys (``n_test`` from
:func:`split_sizes`), so every pair of a prompt, and every copy of the same prompt, lands in one split.

Layouts (``SplitOptions.splits``):

- ``train``: one split, ``train``.
- ``train-test``: ``train`` and ``test``.
- ``h4``: HuggingFaceH4/ultrafeedback_binarized's six splits: ``train_prefs``, ``train_sft``, ``train_gen``,
  ``test_prefs``, ``test_sft``, ``test_gen``. ``*_prefs`` and ``*_sft`` hold the pairs (``messages`` = the chosen
  conversation); ``*_gen`` hold the same rows with ``messages`` cut before the last assistant turn (the prompt
  alone, for generation). ``test_sft`` / ``test_gen`` hold the first ``n_test_sft`` test prompts by key.

Files: ``data/{split}-{i:05d}-of-{n:05d}.parquet``, ``shard_rows`` rows a shard, row groups of a fixed size, so
the bytes depend on the rows alone. A split with no rows gets no file and is left out of the card's configs
(``datasets`` cannot load an empty split); this happens only on tiny inputs (test splits of fewer than 10 prompts).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.io import ROW_GROUP_SIZE
from notus_data.recipes.config import SplitOptions

SPLIT_SALT = "notus-data-split"
LAYOUT_SPLITS = {
    "train": ("train",),
    "train-test": ("train", "test"),
    "h4": ("train_prefs", "train_sft", "train_gen", "test_prefs", "test_sft", "test_gen"),
}


def split_keys(prompt_ids: pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """The split key (uint64) of each prompt_id; a function of (seed, prompt_id) alone."""
    prefix = f"{SPLIT_SALT}:{seed}:".encode()
    values = prompt_ids.to_pylist()
    out = np.zeros(len(values), dtype=np.uint64)
    for i, pid in enumerate(values):
        digest = hashlib.sha256(prefix + (pid or "").encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big")
    return out


def split_sizes(n_prompts: int, options: SplitOptions) -> tuple[int, int]:
    """(test prompts, test_sft prompts) for ``n_prompts`` distinct prompts (see :class:`SplitOptions`).

    >>> split_sizes(63_135, SplitOptions(splits="h4"))
    (2000, 1000)
    >>> split_sizes(380, SplitOptions(splits="h4"))
    (38, 19)
    """
    if options.splits == "train":
        return 0, 0
    n_test = min(options.test_size, int(math.floor(options.max_test_fraction * n_prompts + 1e-9)))
    n_sft = (n_test * options.test_sft_size) // options.test_size if options.test_size else 0
    return n_test, n_sft


@dataclass
class SplitPlan:
    """Which keys go to the test split (key <= test_max) and to test_sft/test_gen (key <= sft_max)."""

    layout: str
    n_prompts: int = 0
    n_test: int = 0
    n_test_sft: int = 0
    test_max: int | None = None
    sft_max: int | None = None

    @classmethod
    def from_keys(cls, prompt_keys: np.ndarray, options: SplitOptions) -> SplitPlan:
        """Plan from the keys of all pairs (repeats of a prompt count once)."""
        unique = np.unique(prompt_keys)
        n_test, n_sft = split_sizes(len(unique), options)
        plan = cls(options.splits, len(unique), n_test, n_sft)
        if n_test:
            plan.test_max = int(unique[n_test - 1])
        if n_sft:
            plan.sft_max = int(unique[n_sft - 1])
        return plan

    @property
    def names(self) -> tuple[str, ...]:
        return LAYOUT_SPLITS[self.layout]

    def route(self, pairs: pa.Table, keys: np.ndarray) -> dict[str, pa.Table]:
        """The rows of one batch of pairs, by split (every split present, possibly empty)."""
        if self.layout == "train":
            return {"train": pairs}
        test = keys <= np.uint64(self.test_max) if self.test_max is not None else np.zeros(len(keys), bool)
        train_rows, test_rows = pairs.filter(pa.array(~test)), pairs.filter(pa.array(test))
        if self.layout == "train-test":
            return {"train": train_rows, "test": test_rows}
        sft = keys <= np.uint64(self.sft_max) if self.sft_max is not None else np.zeros(len(keys), bool)
        sft_rows = pairs.filter(pa.array(sft & test))
        return {
            "train_prefs": train_rows,
            "train_sft": train_rows,
            "train_gen": generation_rows(train_rows),
            "test_prefs": test_rows,
            "test_sft": sft_rows,
            "test_gen": generation_rows(sft_rows),
        }


def drop_last_turn(messages: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each message list without its last turn (an empty list stays empty; null stays null).

    >>> from notus_data.formats import conversation
    >>> drop_last_turn(conversation(pa.array(["hi"]), pa.array(["hello"]))).to_pylist()
    [[{'content': 'hi', 'role': 'user'}]]
    """
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks()
    offsets = messages.offsets.to_numpy().astype(np.int64)  # absolute positions in messages.values
    lengths = np.diff(offsets)
    start = int(offsets[0]) if len(offsets) else 0
    keep = np.ones(int(offsets[-1]) - start if len(offsets) else 0, dtype=bool)
    keep[offsets[1:][lengths > 0] - 1 - start] = False
    flat = messages.values.slice(start, len(keep)).filter(pa.array(keep))
    new_offsets = np.concatenate([[0], np.cumsum(np.maximum(lengths - 1, 0))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(new_offsets), flat, type=messages.type, mask=messages.is_null())


def generation_rows(pairs: pa.Table) -> pa.Table:
    """H4's ``*_gen`` rows: the pairs with ``messages`` holding the conversation without its last assistant turn."""
    i = pairs.schema.get_field_index("messages")
    return pairs.set_column(i, pairs.schema.field(i), drop_last_turn(pairs.column("messages")))


@dataclass
class ShardedWriter:
    """Write one split as ``data/{split}-{i:05d}-of-{n:05d}.parquet`` shards of ``shard_rows`` rows.

    Row groups hold ``row_group_size`` rows (the last of a shard fewer), whatever the batches written, so the
    files depend on the rows alone. :meth:`close` names the shards once their number is known.
    """

    folder: Path
    split: str
    schema: pa.Schema
    shard_rows: int
    row_group_size: int = ROW_GROUP_SIZE
    rows: int = 0
    nbytes: int = 0
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0
        self._parts: list[Path] = []

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if table.schema != self.schema:
            table = table.cast(self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        while self._buffered >= self._next_group():
            self._flush(self._next_group())

    def _next_group(self) -> int:
        return min(self.row_group_size, self.shard_rows - self._in_shard)

    def _flush(self, rows: int) -> None:
        table = pa.concat_tables(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        head, rest = table.slice(0, rows), table.slice(rows)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows
        if self._writer is None:
            self._open()
        self._writer.write_table(head.combine_chunks(), row_group_size=max(rows, 1))
        self.rows += rows
        self._in_shard += rows
        if self._in_shard >= self.shard_rows:
            self._writer.close()
            self._writer = None
            self._in_shard = 0

    def _open(self) -> None:
        part = self.folder / f".{self.split}-part-{len(self._parts):05d}.parquet"
        self._parts.append(part)
        self._writer = pq.ParquetWriter(part, self.schema, compression="snappy")

    def close(self) -> list[Path]:
        """Flush, close and name the shards; returns their paths (none for a split with no rows)."""
        if self._buffered:
            self._flush(self._buffered)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        n = len(self._parts)
        for i, part in enumerate(self._parts):
            # The uncompressed size of the data: a function of the rows alone (Arrow's nbytes is not).
            meta = pq.read_metadata(part)
            self.nbytes += sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
            target = self.folder / f"{self.split}-{i:05d}-of-{n:05d}.parquet"
            part.replace(target)
            self.files.append(target)
        return self.files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for part in self._parts:
            part.unlink(missing_ok=True)
