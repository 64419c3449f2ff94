"""The two sides of ``explain``, read into one shape: a *side table* with one row per pair.

A pairs set (PUBLISHED, or OURS when it is a run's output) is read in any format the trainer reads (``notus``,
``cleaned``, ``h4``, ``standard``, ``trl``: :func:`notus_data.formats.read.detect_format`) from a local file, a
folder (a run's folder, parquet shards laid out as on the Hub, a ``save_to_disk`` folder), a Hub id, or a table in
memory. Each row becomes a :data:`SIDE_SCHEMA` row: where it is (split, row), the prompt (its text, its
``prompt_id`` = sha256 of the text, its join key :func:`~notus_data.steps.trace.text_keys`), the text keys of the
chosen and rejected responses, the scores the set gives them, and ``problem``: why the row is no pair (null for a
readable pair; the trainer's reasons: ``null_text``, ``prompt_mismatch``, ...).

Splits read: those asked for, else the train split (``train`` or ``train_prefs``, or the only split) and the test
split when there is one (``test``, ``test_prefs``, ``validation``, ``eval``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import NotusDataError, SchemaError
from notus_data.formats.read import FORMAT_COLUMNS, detect_format, to_conversational
from notus_data.io.paths import (
    DEFAULT_BATCH_SIZE,
    folder_owner,
    hub_unreachable,
    looks_like_hub_id,
    sidecar_path,
)
from notus_data.io.sources import DatasetReader, LocalReader, Reader, in_memory
from notus_data.io.tables import TableSource, arrow_message, read_table
from notus_data.schema import list_parts, sha256_hex
from notus_data.steps.trace import text_keys
from notus_data.train.data import TEST_SPLITS, TRAIN_SPLITS

SIDE_SCHEMA = pa.schema(
    [
        ("split", pa.string()),
        ("row", pa.int64()),  # position in the split (OURS read afresh: the input's row_index)
        ("prompt", pa.string()),
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("key", pa.int64()),
        ("chosen", pa.int64()),  # text keys (null where the row is no pair)
        ("rejected", pa.int64()),
        ("chosen_score", pa.float64()),
        ("rejected_score", pa.float64()),
        ("problem", pa.string()),
    ]
)
#: Columns that hold the chosen / rejected scores, by format, tried in order.
SCORE_COLUMNS = (
    ("chosen_avg_rating", "rejected_avg_rating"),
    ("chosen-rating", "rejected-rating"),
    ("score_chosen", "score_rejected"),
    ("chosen_score", "rejected_score"),
    ("chosen_rating", "rejected_rating"),
)


@dataclass
class Side:
    """One side read as a side table, and what was read: location, format, rows per split, problems."""

    table: pa.Table
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ opening


def _choose(names: list[str], wanted: tuple[str, ...], where: str) -> list[str]:
    if wanted:
        missing = [s for s in wanted if s not in names]
        if missing:
            raise NotusDataError(f"{where}: no split {', '.join(missing)} (splits: {', '.join(names)})")
        return list(wanted)
    train = next((s for s in TRAIN_SPLITS if s in names), names[0] if len(names) == 1 else None)
    if train is None:
        raise NotusDataError(
            f"{where} has splits {', '.join(names)} but none named {' or '.join(TRAIN_SPLITS)}; "
            "name the ones to read (--published-split)"
        )
    test = next((s for s in TEST_SPLITS if s in names and s != train), None)
    return [train, *([test] if test else [])]


def _load_dataset(name: str, revision: str | None) -> Any:
    """``datasets.load_dataset(name)``: a Hub id, or a local folder laid out like a Hub repository."""
    import datasets

    if not Path(name).exists():
        offline = hub_unreachable()
        if offline is not None:
            raise NotusDataError(
                f"{name}: the Hugging Face Hub cannot be reached ({offline}); give a local copy (a file or "
                "folder) instead, or set HF_HUB_OFFLINE=1 to read a copy datasets has cached"
            )
    try:
        return datasets.load_dataset(name, revision=revision)
    except Exception as exc:  # not found, gated, bad revision, unreadable files: one line
        raise NotusDataError(
            f"could not load '{name}' (revision {revision or 'main'}) with datasets: "
            f"{type(exc).__name__}: {arrow_message(exc)}"
        ) from exc


def open_splits(
    location: Any, splits: tuple[str, ...] = (), revision: str | None = None
) -> list[tuple[str, Reader]]:
    """The splits of a pairs set to read, each as a reader of its rows (see the module docstring)."""
    memory = in_memory(location)
    if memory is not None:
        return [("train", memory)]
    if not isinstance(location, (str, os.PathLike)):
        raise NotusDataError(
            f"{type(location).__name__} is not a pairs set; give a path, a Hub id or a table in memory"
        )
    text = os.fspath(location)
    path = Path(text)
    if path.is_file():
        _choose(["train"], splits, text)
        return [("train", LocalReader(path, None))]
    if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
        import datasets

        loaded = datasets.load_from_disk(text)
        if isinstance(loaded, datasets.Dataset):
            _choose(["train"], splits, text)
            return [("train", DatasetReader(loaded, text, kind="folder"))]
        return [(s, DatasetReader(loaded[s], f"{text} ({s})", kind="folder"))
                for s in _choose(list(loaded), splits, text)]  # fmt: skip
    if not path.exists() and not looks_like_hub_id(text):
        raise NotusDataError(f"{text}: no such file or folder, and not a Hub id (owner/name)")
    loaded = _load_dataset(text, revision)
    kind = "folder" if path.exists() else "hub"
    chosen = _choose(list(loaded), splits, text)
    return [(s, DatasetReader(loaded[s], f"{text} ({s})", revision, kind=kind)) for s in chosen]


# ------------------------------------------------------------------------------------------------ reading


def _score_names(schema: pa.Schema) -> tuple[str | None, str | None, bool]:
    """(chosen, rejected, in the ``metadata`` struct) score columns of a pairs schema."""
    for chosen, rejected in SCORE_COLUMNS:
        if chosen in schema.names and rejected in schema.names:
            return chosen, rejected, False
    if "metadata" in schema.names and pa.types.is_struct(schema.field("metadata").type):
        fields = {f.name for f in schema.field("metadata").type}
        if {"score_chosen", "score_rejected"} <= fields:
            return "score_chosen", "score_rejected", True
    return None, None, False


def _last_content(messages: pa.Array) -> pa.Array:
    """The content of the last turn of each message list (lists have at least one turn)."""
    lengths, starts, flat = list_parts(messages)
    return pc.struct_field(flat, "content").take(pa.array(starts + lengths - 1))


def _numbers(batch: pa.Table, name: str | None, nested: bool) -> pa.Array:
    if name is None:
        return pa.nulls(batch.num_rows, pa.float64())
    column = batch.column("metadata" if nested else name).combine_chunks()
    values = pc.struct_field(column, name) if nested else column
    try:
        return values.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"column {name!r}: scores must be numbers ({arrow_message(exc)})") from None


def side_rows(batch: pa.Table, fmt: str, split: str, start: int, scores: tuple) -> pa.Table:
    """The side-table rows of one batch of a pairs set in format ``fmt``."""
    n = batch.num_rows
    pairs, dropped = to_conversational(batch.select(list(FORMAT_COLUMNS[fmt])), fmt)
    kept = pairs.column("row_index").to_numpy()
    problem = np.full(n, None, dtype=object)
    for why, rows in dropped.items():
        problem[rows] = why
    take = np.full(n, -1, dtype=np.int64)
    take[kept] = np.arange(len(kept))
    prompt_column = next((c for c in ("instruction", "prompt") if c in batch.column_names
                          and pa.types.is_string(batch.schema.field(c).type)), None)  # fmt: skip
    raw = batch.column(prompt_column).combine_chunks() if prompt_column else pa.nulls(n, pa.string())
    index = pa.array(take, mask=take < 0)

    def from_pairs(values: pa.Array) -> pa.Array:
        return values.take(index) if len(values) else pa.nulls(n, values.type)

    prompt = pc.coalesce(from_pairs(_last_content(pairs.column("prompt").combine_chunks())), raw)
    chosen = from_pairs(_last_content(pairs.column("chosen").combine_chunks()))
    rejected = from_pairs(_last_content(pairs.column("rejected").combine_chunks()))
    readable = take >= 0

    def keys(texts: pa.Array, where: np.ndarray, collapse: bool = False) -> pa.Array:
        return pa.array(text_keys(texts, collapse), mask=~where)

    source = (
        batch.column("source").combine_chunks().cast(pa.string()) if "source" in batch.column_names else None
    )
    return pa.table(
        {
            "split": pa.array([split] * n, pa.string()),
            "row": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "prompt": prompt,
            "prompt_id": sha256_hex(prompt),
            "source": source if source is not None else pa.nulls(n, pa.string()),
            "key": keys(prompt, pc.is_valid(prompt).to_numpy(zero_copy_only=False), collapse=True),
            "chosen": keys(chosen, readable),
            "rejected": keys(rejected, readable),
            "chosen_score": _numbers(batch, scores[0], scores[2]),
            "rejected_score": _numbers(batch, scores[1], scores[2]),
            "problem": pa.array(problem, pa.string()),
        },
        schema=SIDE_SCHEMA,
    )


def read_side(
    location: Any,
    splits: tuple[str, ...] = (),
    revision: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Side:
    """A pairs set as a side table (see the module docstring)."""
    parts, info = [], {"location": _describe(location), "splits": {}, "problems": {}}
    for split, reader in open_splits(location, splits, revision):
        schema = reader.schema()
        if schema is None:
            raise SchemaError(f"{reader.origin}: cannot tell its columns (an empty stream?)")
        fmt = detect_format(schema, where=reader.origin)
        scores = _score_names(schema)
        wanted = {
            *FORMAT_COLUMNS[fmt],
            *(c for c in ("source", "instruction", "prompt") if c in schema.names),
        }
        wanted |= {c for c in scores[:2] if c and not scores[2]} | ({"metadata"} if scores[2] else set())
        columns = {c: [] for c in schema.names if c in wanted}
        start = 0
        for _, batch, _ in reader.batches(columns, batch_size):
            parts.append(side_rows(batch, fmt, split, start, scores))
            start += batch.num_rows
        info["format"] = fmt
        info["splits"][split] = start
        info["scores"] = None if scores[0] is None else ("metadata." if scores[2] else "") + scores[0]
    table = pa.concat_tables(parts) if parts else SIDE_SCHEMA.empty_table()
    problems = pc.value_counts(pc.drop_null(table.column("problem"))).to_pylist() if table.num_rows else []
    info["problems"] = {p["values"]: p["counts"] for p in sorted(problems, key=lambda p: p["values"])}
    info["rows"] = table.num_rows
    return Side(table, info)


def _describe(location: Any) -> str:
    return os.fspath(location) if isinstance(location, (str, os.PathLike)) else type(location).__name__


# ------------------------------------------------------------------------------------------------ OURS


def ours_kind(ours: Any) -> str:
    """``run`` (a run's folder), ``pairs`` (a pairs set) or ``input`` (UltraFeedback-shaped rows to binarize).

    A Hub id is taken as input; a local file, folder or table in memory by its columns (``completions``: input).
    """
    memory = in_memory(ours)
    if memory is not None:
        schema = memory.schema()
    elif isinstance(ours, (str, os.PathLike)) and Path(ours).exists():
        path = Path(ours)
        if path.is_dir() and folder_owner(path) == "run":
            return "run"
        try:
            schema = TableSource(path).schema()
        except NotusDataError:
            return "pairs"  # a folder only datasets reads (a Hub layout with its card): read as pairs
    else:
        return "input"
    if schema is None or "completions" in schema.names:
        return "input"
    detect_format(
        schema, where=f"OURS {_describe(ours)} (neither UltraFeedback rows with completions nor pairs)"
    )
    return "pairs"


def removed_by_ours(ours: Any) -> pa.Table | None:
    """The decontamination evidence of a run's folder or a binarize output (prompt_id, source), or None."""
    if not isinstance(ours, (str, os.PathLike)):
        return None
    path = Path(ours)
    candidates = [path / "evidence" / "decontamination.parquet"] if path.is_dir() else []
    candidates += [sidecar_path(path, "decontamination.parquet"), sidecar_path(path, "decontamination.jsonl")]
    for candidate in candidates:
        if candidate.is_file():
            return read_table(candidate, ["prompt_id", "source"])
    return None


def run_report(ours: Any) -> dict[str, Any] | None:
    """The counts of a run's folder (its ``report.json``), or None."""
    if isinstance(ours, (str, os.PathLike)) and (Path(ours) / "report.json").is_file():
        data = json.loads((Path(ours) / "report.json").read_text(encoding="utf-8"))
        return {k: data.get(k) for k in ("rows_in", "rows_with_pairs", "rows_out", "dropped")}
    return None
