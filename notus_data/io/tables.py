"""Local tables in every supported format, read in batches: parquet files and folders of shards (only the
nested columns asked for), JSON lines and JSON arrays, ``save_to_disk`` folders; and a background reader that
fetches the next batch while the current one is processed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.errors import InputError, NotusDataError, SchemaError, os_error
from notus_data.io.paths import DEFAULT_BATCH_SIZE, JSON_SUFFIXES

# Segments that parquet inserts into the paths of list columns.
_LIST_SEGMENTS = {"list", "element", "item", "array", "bag", "array_element"}


# --------------------------------------------------------------------------------------------------- inputs


def _parquet_files(folder: Path, split: str | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
    if split:
        named = [p for p in files if p.name.startswith(split) or split in p.relative_to(folder).parts[:-1]]
        files = named or files
    return files


#: In a folder of parquet shards, files that look like data but would not be read (so they are refused, not
#: ignored); metadata such as README.md, dataset_info.json or a run's report.json is left alone.
_DATA_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", ".arrow", ".feather", ".gz", ".zst", ".xz",
                  ".bz2", ".zip", ".tar", ".xlsx", ".pkl", ".pickle")  # fmt: skip
_METADATA = {"dataset_info.json", "dataset_dict.json", "state.json", "report.json", "dataset_infos.json"}


def _refuse_other_data(folder: Path) -> None:
    others = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.suffix.lower() in _DATA_SUFFIXES
        and p.name not in _METADATA
        and not p.name.endswith(".report.json")
    )
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise NotusDataError(
            f"{folder}: the folder holds parquet shards and {len(others)} other data file(s) ({shown}) that would "
            "not be read; give a folder of parquet shards only (move the others away), or each file on its own"
        )


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "state.json").exists() or (folder / "dataset_dict.json").exists()


def projected_paths(pf: pq.ParquetFile, wanted: dict[str, list[str]] | None) -> list[str] | None:
    """Parquet leaf paths for the wanted top-level columns and nested fields (None: read everything)."""
    if wanted is None:
        return None
    paths = []
    for i in range(len(pf.schema)):
        path = pf.schema.column(i).path
        parts = path.split(".")
        top, rest = parts[0], ".".join(p for p in parts[1:] if p not in _LIST_SEGMENTS)
        if top not in wanted:
            continue
        fields = wanted[top]
        if not fields or any(rest == f or rest.startswith(f + ".") for f in fields):
            paths.append(path)
    return paths


def _open_json(path: Path) -> Any:
    import pyarrow.json as pj

    try:
        return pj.open_json(path, read_options=pj.ReadOptions(block_size=16 << 20))
    except pa.ArrowInvalid as exc:
        raise json_error(path, exc, 0) from exc


_TYPE_CHANGE = re.compile(r"Column\((/[^)]*)\) changed from (\w+) to (\w+) in row (\d+)")


def json_error(path: Path, exc: Exception, rows_before: int) -> SchemaError:
    """The error of a JSON lines file pyarrow cannot read: a field whose type changes names it and its row."""
    found = _TYPE_CHANGE.search(str(exc))
    if found:
        where, before, after, row = found.groups()
        field = where.strip("/").replace("/[]", "[]").replace("/", ".") or "(the row itself)"
        return SchemaError(
            f"{path}: field '{field}' changes type at row {rows_before + int(row)}: {after} there, {before} in "
            f"the rows before; every row must give a field the same type (here: {before}, or null)"
        )
    return SchemaError(f"{path}: cannot read as JSON lines ({arrow_message(exc)}); one JSON object a line")


def arrow_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _json_is_array(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith(b"[")


def _iter_json(path: Path, batch_size: int, problems: list[dict[str, Any]]) -> Iterator[pa.Table]:
    if _json_is_array(path):
        yield from iter_dataset(_datasets_json(path), None, batch_size)
        return
    reader = _open_json(path)
    done = 0
    while True:
        try:
            batch = reader.read_next_batch()
            # pyarrow's JSON reader can build an invalid array for a null struct inside a list; such a file is
            # read by the (slower) Python JSON parser from the first row not yet given out.
            batch.validate()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            if "JSON" in str(exc) or "changed from" in str(exc):
                raise json_error(path, exc, done) from exc
            yield from _iter_json_python(path, batch_size, skip=done, problems=problems)
            return
        table = pa.Table.from_batches([batch])
        for start in range(0, table.num_rows, batch_size):
            yield table.slice(start, batch_size)
        done += table.num_rows


def _fix_text(value: Any, field: str, found: list[str]) -> Any:
    """``value`` (parsed with surrogateescape) with invalid UTF-8 replaced by U+FFFD; the fields fixed in ``found``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.append(field)
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {k: _fix_text(v, f"{field}.{k}" if field else k, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_fix_text(v, f"{field}[{i}]", found) for i, v in enumerate(value)]
    return value


def _iter_json_python(
    path: Path, batch_size: int, *, skip: int, problems: list[dict[str, Any]]
) -> Iterator[pa.Table]:
    from notus_data.io.text import RULE

    rows: list[Any] = []
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        number = 0
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            number += 1
            if number <= skip:
                continue
            try:
                row = json.loads(line)
                found: list[str] = []
                rows.append(_fix_text(row, "", found))
                problems.extend(
                    {"row_index": number - 1, "field": f, "value": None, "kind": "invalid_utf8", "rule": RULE}
                    for f in found
                )
            except json.JSONDecodeError as exc:
                raise SchemaError(
                    f"{path}: line {line_no} is not valid JSON ({exc.msg}); one JSON object a line"
                ) from exc
            if len(rows) == batch_size:
                yield pa.Table.from_pylist(rows)
                rows = []
    if rows:
        yield pa.Table.from_pylist(rows)


def _json_schema(path: Path) -> pa.Schema:
    if _json_is_array(path):
        return _datasets_json(path).features.arrow_schema
    return _open_json(path).schema


def _datasets_json(path: Path) -> Any:
    import datasets

    try:
        return datasets.load_dataset("json", data_files=str(path), split="train")
    except Exception as exc:  # datasets raises many types for a bad file
        raise SchemaError(
            f"{path}: cannot read as JSON ({type(exc).__name__}: {arrow_message(exc)})"
        ) from exc


def iter_dataset(ds: Any, columns: Sequence[str] | None, batch_size: int) -> Iterator[pa.Table]:
    if columns is not None and ds.features is not None:
        ds = ds.select_columns([c for c in columns if c in ds.features])
    yield from ds.with_format("arrow").iter(batch_size=batch_size)


def _load_from_disk(folder: Path, split: str | None) -> Any:
    import datasets

    ds = datasets.load_from_disk(str(folder))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise NotusDataError(
                f"{folder}: no split '{split}' (splits: {sorted(ds)}); choose one with --split"
            )
        ds = ds[split]
    return ds


@dataclass
class TableSource:
    """A local table in any supported format, read in batches (optionally only some columns)."""

    path: Path
    split: str | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.exists():
            raise NotusDataError(f"{self.path}: no such file or folder")
        if self.path.is_dir():
            if _is_saved_dataset(self.path):
                self.kind = "saved"
            elif _parquet_files(self.path, self.split):
                self.kind = "parquet"
                _refuse_other_data(self.path)
            else:
                raise NotusDataError(
                    f"{self.path}: the folder holds neither parquet files nor a save_to_disk dataset"
                )
        elif self.path.suffix == ".parquet":
            self.kind = "parquet"
        elif self.path.suffix in JSON_SUFFIXES:
            self.kind = "json"
        elif self.path.suffix == ".gz" and Path(self.path.stem).suffix in JSON_SUFFIXES:
            # gzip'd JSON lines (HelpSteer2's preference.jsonl.gz): pyarrow decompresses it
            self.kind = "json"
        else:
            raise NotusDataError(
                f"{self.path}: unknown file type '{self.path.suffix}'; use .parquet, .jsonl or .json, or a folder"
            )

    @property
    def files(self) -> list[Path]:
        return _parquet_files(self.path, self.split) if self.path.is_dir() else [self.path]

    def schema(self) -> pa.Schema:
        if self.kind == "saved":
            return _load_from_disk(self.path, self.split).features.arrow_schema
        if self.kind == "json":
            return _json_schema(self.path)
        return parquet_schema(self.files[0])

    @property
    def num_rows(self) -> int | None:
        if self.kind == "saved":
            return _load_from_disk(self.path, self.split).num_rows
        if self.kind == "parquet":
            return sum(_parquet_file(f).metadata.num_rows for f in self.files)
        return None

    def iter_batches(
        self, *, columns: dict[str, list[str]] | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[tuple[Path, pa.Table, pa.Table | None]]:
        """Yield (file, batch, problems met reading it or None); ``columns`` maps a top-level column to the
        nested fields wanted."""
        if self.kind == "saved":
            ds = _load_from_disk(self.path, self.split)
            for batch in iter_dataset(ds, list(columns) if columns else None, batch_size):
                yield self.path, batch, None
        elif self.kind == "json":
            found: list[dict[str, Any]] = []
            for batch in _iter_json(self.path, batch_size, found):
                problems = pa.Table.from_pylist(found, schema=_problem_schema()) if found else None
                found.clear()
                yield self.path, batch, problems
        else:
            for file in self.files:
                pf = _parquet_file(file)
                batches = pf.iter_batches(batch_size=batch_size, columns=projected_paths(pf, columns))
                while True:
                    try:
                        batch = next(batches)
                    except StopIteration:
                        break
                    except (pa.ArrowInvalid, OSError) as exc:
                        raise InputError(
                            f"{file}: cannot read it: the file is damaged ({arrow_message(exc)}); its footer is "
                            "intact but a data page is not. Write it again, or leave it out"
                        ) from exc
                    yield file, pa.Table.from_batches([batch]), None


def _problem_schema() -> pa.Schema:
    from notus_data.normalize import PROBLEM_SCHEMA

    return PROBLEM_SCHEMA


_DONE = object()


def prefetch(iterator: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Yield the items of ``iterator`` in order while a background thread reads up to ``depth`` items ahead.

    Reading parquet releases the GIL, so the next batch is read while the caller computes and writes the current
    one. An exception in the reader is raised in the caller, at the item where it happened; a caller that stops
    early stops the reader. At most ``depth`` extra items are held.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((_DONE, None))
        except BaseException as exc:  # handed to the caller
            items.put((_DONE, exc))

    thread = threading.Thread(target=read, name="notus-data-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                items.get_nowait()
        thread.join()


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        # pre_buffer=False: read column chunks as they are needed, which halves the peak memory of a large file.
        return pq.ParquetFile(path, pre_buffer=False)
    except PermissionError as exc:
        raise os_error(exc, path, "read", InputError) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"{path}: not a readable parquet file ({arrow_message(exc)})") from exc


def parquet_schema(path: Path) -> pa.Schema:
    """The Arrow schema of a parquet file, from its footer (a file that is not parquet raises naming it)."""
    return _parquet_file(path).schema_arrow


def iter_table_batches(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    split: str | None = None,
) -> Iterator[pa.Table]:
    """Read any local table (parquet, jsonl, json, parquet folder, save_to_disk folder) in batches.

    ``columns`` selects top-level columns; a missing one raises a :class:`SchemaError` naming it.
    """
    source = TableSource(Path(path), split=split)
    if columns is not None:
        names = source.schema().names
        missing = [c for c in columns if c not in names]
        if missing:
            raise SchemaError(f"{path}: missing column(s) {missing}; the file has {names}")
    wanted = {c: [] for c in columns} if columns is not None else None
    for _, batch, _ in source.iter_batches(columns=wanted, batch_size=batch_size):
        yield batch.select(list(columns)) if columns is not None else batch


def read_table(
    path: str | os.PathLike, columns: Sequence[str] | None = None, *, split: str | None = None
) -> pa.Table:
    """Read a whole local table (see :func:`iter_table_batches`)."""
    batches = list(iter_table_batches(path, columns, split=split))
    if batches:
        return pa.concat_tables(batches)
    source = TableSource(Path(path), split=split)
    schema = source.schema()
    return schema.empty_table().select(list(columns)) if columns is not None else schema.empty_table()
