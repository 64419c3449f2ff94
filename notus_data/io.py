"""Reading inputs and writing outputs.

Inputs: the Hub (``datasets.load_dataset``, optionally streaming), or local parquet / jsonl / json files, a
folder of parquet shards, or a ``save_to_disk`` folder. Everything is read in batches, so memory does not grow with
the input; from parquet only the (nested) columns a step needs are read.

Outputs are written atomically: to a hidden temporary path beside the output, moved into place only when the run
succeeds. Row groups have a fixed size, so the bytes do not depend on the batch size a run used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.errors import NotusDataError, SchemaError
from notus_data.report import Problems
from notus_data.schema import RawLayout, check_raw_schema, needed_columns, normalize_batch

DEFAULT_HUB_ID = "openbmb/UltraFeedback"
#: The openbmb/UltraFeedback revision after the critique-score fix (RECIPE.md, section 1).
DEFAULT_REVISION = "40b436560ca83a8dba36114c22ab3c66e43f6d5e"
DEFAULT_BATCH_SIZE = 4096
ROW_GROUP_SIZE = 8192
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
# Segments that parquet inserts into the paths of list columns.
_LIST_SEGMENTS = {"list", "element", "item", "array", "bag", "array_element"}


# --------------------------------------------------------------------------------------------------- inputs


def is_local(input: str | os.PathLike) -> bool:
    return Path(input).exists()


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` with no path-like parts and no data-file extension."""
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not name.endswith((".parquet", *JSON_SUFFIXES))


def _parquet_files(folder: Path, split: str | None) -> list[Path]:
    files = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
    if split:
        named = [p for p in files if p.name.startswith(split) or split in p.relative_to(folder).parts[:-1]]
        files = named or files
    return files


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
        raise SchemaError(
            f"{path}: cannot read as JSON lines ({_arrow_message(exc)}); one JSON object a line"
        ) from exc


def _arrow_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _json_is_array(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith(b"[")


def _iter_json(path: Path, batch_size: int) -> Iterator[pa.Table]:
    if _json_is_array(path):
        yield from _iter_dataset(_datasets_json(path), None, batch_size)
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
                raise SchemaError(
                    f"{path}: a row does not match the earlier rows ({_arrow_message(exc)}); "
                    "every row must use the same field types"
                ) from exc
            yield from _iter_json_python(path, batch_size, skip=done)
            return
        table = pa.Table.from_batches([batch])
        for start in range(0, table.num_rows, batch_size):
            yield table.slice(start, batch_size)
        done += table.num_rows


def _iter_json_python(path: Path, batch_size: int, *, skip: int) -> Iterator[pa.Table]:
    rows: list[Any] = []
    with open(path, encoding="utf-8") as fh:
        number = 0
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            number += 1
            if number <= skip:
                continue
            try:
                rows.append(json.loads(line))
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
            f"{path}: cannot read as JSON ({type(exc).__name__}: {_arrow_message(exc)})"
        ) from exc


def _iter_dataset(ds: Any, columns: Sequence[str] | None, batch_size: int) -> Iterator[pa.Table]:
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
            else:
                raise NotusDataError(
                    f"{self.path}: the folder holds neither parquet files nor a save_to_disk dataset"
                )
        elif self.path.suffix == ".parquet":
            self.kind = "parquet"
        elif self.path.suffix in JSON_SUFFIXES:
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
        return _read_parquet_schema(self.files[0])

    @property
    def num_rows(self) -> int | None:
        if self.kind == "saved":
            return _load_from_disk(self.path, self.split).num_rows
        if self.kind == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        return None

    def iter_batches(
        self, *, columns: dict[str, list[str]] | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[tuple[Path, pa.Table]]:
        """Yield (file, batch) pairs; ``columns`` maps a top-level column to the nested fields wanted."""
        if self.kind == "saved":
            ds = _load_from_disk(self.path, self.split)
            for batch in _iter_dataset(ds, list(columns) if columns else None, batch_size):
                yield self.path, batch
        elif self.kind == "json":
            for batch in _iter_json(self.path, batch_size):
                yield self.path, batch
        else:
            for file in self.files:
                pf = _parquet_file(file)
                for batch in pf.iter_batches(batch_size=batch_size, columns=projected_paths(pf, columns)):
                    yield file, pa.Table.from_batches([batch])


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
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"{path}: not a readable parquet file ({_arrow_message(exc)})") from exc


def _read_parquet_schema(path: Path) -> pa.Schema:
    return _parquet_file(path).schema_arrow


class UltraFeedbackSource:
    """UltraFeedback-shaped input, checked up front and read as canonical batches (see :mod:`notus_data.schema`).

    ``problems`` collects the bad values met while reading (counted by kind, with examples naming the row).
    """

    def __init__(
        self,
        origin: str,
        batches: Any,
        schema: pa.Schema | None,
        *,
        num_rows: int | None,
        with_critique: bool = False,
        revision: str | None = None,
    ) -> None:
        self.origin = origin
        self.revision = revision
        self.num_rows = num_rows
        self.with_critique = with_critique
        self.problems = Problems()
        self._batches = batches
        self.layout: RawLayout | None = check_raw_schema(schema, origin) if schema is not None else None

    def iter_batches(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[pa.Table]:
        """Yield canonical tables; ``row_index`` counts rows from the start of the input."""
        offset = 0
        layouts: dict[str, RawLayout] = {}
        for origin, raw in prefetch(self._batches(batch_size)):
            layout = layouts.get(str(origin))
            if layout is None:
                layout = layouts[str(origin)] = check_raw_schema(raw.schema, str(origin))
                if self.layout is None:
                    self.layout = layout
            if raw.num_rows == 0:
                continue
            table, problems = normalize_batch(
                raw, layout, row_offset=offset, with_critique=self.with_critique
            )
            self.problems.add(problems)
            offset += raw.num_rows
            yield table

    def describe(self) -> dict[str, Any]:
        return {"input": self.origin, "revision": self.revision, "rows": self.num_rows}


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
        if self.batch_size < 1:
            raise NotusDataError(f"batch_size: {self.batch_size} must be >= 1")


def load_ultrafeedback(
    input: str | os.PathLike = DEFAULT_HUB_ID,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    with_critique: bool = False,
) -> UltraFeedbackSource:
    """Open UltraFeedback-shaped data: a Hub id, or a local file or folder in the same schema.

    The schema is checked before any row is read (for JSON lines, on the first block). From parquet only the
    fields the steps use are read (the critique only when ``with_critique``).

    Args:
        input: ``openbmb/UltraFeedback`` (the default), another Hub id, or a local .parquet / .jsonl / .json file,
            a folder of parquet shards, or a ``save_to_disk`` folder.
        revision: Hub revision; for ``openbmb/UltraFeedback`` it defaults to the fixed revision
            :data:`DEFAULT_REVISION`.
        split: the split to read (Hub and multi-split folders).
        streaming: read the Hub data set as a stream instead of downloading it first.
        with_critique: also read each completion's critique text (flagging and review need it).
    """
    if is_local(input):
        source = TableSource(Path(input), split=split)
        wanted = needed_columns(with_critique=with_critique)

        def batches(batch_size: int) -> Iterator[tuple[Path, pa.Table]]:
            return source.iter_batches(columns=wanted, batch_size=batch_size)

        schema = (
            source.schema()
        )  # for JSON lines: the first block's inferred schema, so a wrong file fails early
        return UltraFeedbackSource(
            str(input), batches, schema, num_rows=source.num_rows, with_critique=with_critique
        )
    return from_hub(
        str(input), revision=revision, split=split, streaming=streaming, with_critique=with_critique
    )


def from_hub(
    repo_id: str,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    with_critique: bool = False,
) -> UltraFeedbackSource:
    """Load UltraFeedback-shaped data with ``datasets.load_dataset`` (a Hub id, or anything it accepts)."""
    import datasets

    if revision is None and repo_id == DEFAULT_HUB_ID:
        revision = DEFAULT_REVISION
    if not is_local(repo_id) and not looks_like_hub_id(repo_id):
        raise NotusDataError(f"{repo_id}: no such file or folder, and not a Hub id (owner/name)")
    try:
        ds = datasets.load_dataset(repo_id, revision=revision, split=split, streaming=streaming)
    except Exception as exc:  # offline, not found, gated, bad revision: one clear line
        raise NotusDataError(
            f"could not load '{repo_id}' (revision {revision or 'main'}, split {split}) with datasets: "
            f"{type(exc).__name__}: {_arrow_message(exc)}"
        ) from exc
    schema = ds.features.arrow_schema if ds.features is not None else None
    num_rows = None if streaming else ds.num_rows
    columns = list(needed_columns(with_critique=with_critique))

    def batches(batch_size: int) -> Iterator[tuple[str, pa.Table]]:
        for batch in _iter_dataset(ds, columns, batch_size):
            yield repo_id, batch

    return UltraFeedbackSource(
        repo_id, batches, schema, num_rows=num_rows, with_critique=with_critique, revision=revision
    )


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
    for _, batch in source.iter_batches(columns=wanted, batch_size=batch_size):
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


# --------------------------------------------------------------------------------------------------- outputs


def output_kind(path: str | os.PathLike) -> str:
    """ "parquet", "jsonl" or "folder" (a ``save_to_disk`` folder), from the output path's extension."""
    suffix = Path(path).suffix
    if suffix == ".parquet":
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    if suffix:
        raise NotusDataError(
            f"{path}: unknown output type '{suffix}'; use .parquet, .jsonl, or no extension for a folder"
        )
    return "folder"


def sidecar_path(output: str | os.PathLike, name: str) -> Path:
    """A file beside ``output``: ``out/pairs.parquet`` -> ``out/pairs.<name>``."""
    out = Path(output)
    if not out.name:  # "." or "/": the folder's own name
        out = Path(os.path.abspath(out))
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.{name}")


def report_path(output: str | os.PathLike) -> Path:
    """Where a run's JSON report sits: beside the output, ``OUTPUT.report.json``."""
    return sidecar_path(output, "report.json")


# --------------------------------------------------------------------------------------- output safety

#: The file that marks a folder as written by notus-data (and by which command): only such a folder, or an
#: empty one, is ever replaced by a later output.
OUTPUT_MARKER = ".notus-data-output.json"


def _real(path: str | os.PathLike) -> Path:
    """The absolute path with every symlink and ``..`` resolved (the path need not exist)."""
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def write_marker(folder: str | os.PathLike, command: str) -> None:
    """Mark ``folder`` as an output of ``command`` (see :data:`OUTPUT_MARKER`)."""
    text = json.dumps({"written_by": "notus-data", "command": command}, sort_keys=True) + "\n"
    (Path(folder) / OUTPUT_MARKER).write_text(text, encoding="utf-8")


def folder_owner(folder: str | os.PathLike) -> str | None:
    """The command that wrote ``folder`` ("" for an empty folder), or None when notus-data did not write it.

    A folder written by `notus-data run` before the marker existed is recognized by its resolved recipe and
    report.
    """
    folder = Path(folder)
    marker = folder / OUTPUT_MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and data.get("written_by") == "notus-data":
            return str(data.get("command") or "")
        return None
    if not any(folder.iterdir()):
        return ""
    recipe = folder / "recipe.yaml"
    if recipe.is_file() and (folder / "report.json").is_file():
        with open(recipe, encoding="utf-8", errors="replace") as fh:
            if fh.readline().startswith("# notus-data recipe (resolved)"):
                return "run"
    return None


def check_not_inputs(
    outputs: Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike | None]
) -> None:
    """Refuse an output path that resolves (symlinks, ``..``, relative paths) to one of the local ``inputs``,
    to a folder that holds one, or to a place inside an input folder (Hub ids are not checked)."""
    from notus_data.errors import OptionError

    local_inputs = [(str(i), _real(i)) for i in inputs if i is not None and is_local(i)]
    for output in outputs:
        out = _real(output)
        for given, inp in local_inputs:
            if out == inp:
                raise OptionError(
                    f"output: {output} is the input {given}; writing it would destroy the input. Give another "
                    "output path (nothing was written)"
                )
            if out in inp.parents:
                raise OptionError(
                    f"output: {output} is a folder that holds the input {given}; writing it would delete the "
                    "input. Give another output path (nothing was written)"
                )
            if inp.is_dir() and inp in out.parents:
                raise OptionError(
                    f"output: {output} is inside the input folder {given}; the output would be mixed into the "
                    "input. Give a path outside it (nothing was written)"
                )


def guard_outputs(
    command: str,
    outputs: Sequence[str | os.PathLike],
    inputs: Sequence[str | os.PathLike | None] = (),
) -> None:
    """Refuse, before any work, an output path that would destroy data the run did not make.

    Every path a run writes (its output and the files beside it) must pass :func:`check_not_inputs`; and an
    output that exists as a folder must be empty or an earlier output of the same ``command`` (it carries
    :data:`OUTPUT_MARKER`). Raises :class:`OptionError` naming the output, the input and the fix.
    """
    from notus_data.errors import OptionError

    check_not_inputs(outputs, inputs)
    for output in outputs:
        out = _real(output)
        if out.is_dir():
            owner = folder_owner(out)
            if owner is None or (owner and owner != command):
                what = "an output of `notus-data " + owner + "`" if owner else "not written by notus-data"
                raise OptionError(
                    f"output: {output} is an existing folder {what}; `notus-data {command}` replaces only "
                    "an empty folder or its own earlier output. Give a new path, or move that folder away "
                    "yourself (nothing was written)"
                )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    An existing folder at ``path`` is replaced only when notus-data wrote it (or it is empty): anything else is
    refused before the temporary path is made, so no user folder is ever deleted.
    """
    target = Path(path)
    if target.is_dir() and not target.is_symlink() and folder_owner(target) is None:
        from notus_data.errors import OptionError

        raise OptionError(
            f"output: {target} is an existing folder not written by notus-data; it is never replaced. Give a "
            "new path, or move that folder away yourself (nothing was written)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".notus-tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".notus-tmp-old-{target.name}-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    finally:
        _remove(tmp)


def _json_default(value: Any) -> Any:
    return str(value)


def _write_jsonl(fh: Any, table: pa.Table) -> None:
    for row in table.to_pylist():
        fh.write(json.dumps(row, ensure_ascii=False, default=_json_default))
        fh.write("\n")


class AtomicWriter:
    """Write tables to ``path`` (parquet, jsonl or a ``save_to_disk`` folder) so that it appears only when complete.

    Rows are written in row groups of exactly ``row_group_size`` rows (the last one shorter), so the output bytes
    do not depend on how the caller batched its writes. Use as a context manager; ``schema`` is needed for an
    output that may stay empty. A folder output is marked as written by ``command`` (see :func:`guard_outputs`).

    >>> import pyarrow as pa, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "x.parquet")
    >>> with AtomicWriter(out) as w:
    ...     w.write(pa.table({"a": [1, 2]}))
    >>> w.rows
    2
    """

    def __init__(
        self,
        path: str | os.PathLike,
        schema: pa.Schema | None = None,
        *,
        row_group_size: int = ROW_GROUP_SIZE,
        command: str = "write",
    ):
        self.path = Path(path)
        self.command = command
        self.kind = output_kind(self.path)
        self.schema = schema
        self.row_group_size = row_group_size
        self.rows = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._stack = contextlib.ExitStack()
        self._writer: Any = None

    def __enter__(self) -> AtomicWriter:
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        if self.kind == "folder":
            self._workdir = Path(
                self._stack.enter_context(
                    tempfile.TemporaryDirectory(dir=self.path.parent, prefix=".notus-tmp-")
                )
            )
            self._data_path = self._workdir / "data.parquet"
        else:
            self._data_path = self._tmp
        if self.schema is not None:
            self._open()  # the temporary file exists from the start: nothing half-written hides anywhere else
        return self

    def write(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        while self._buffered >= self.row_group_size:
            self._flush(self.row_group_size)

    def _flush(self, rows: int) -> None:
        table = pa.concat_tables(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        head, rest = table.slice(0, rows), table.slice(rows)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows
        self._write_group(head.combine_chunks())

    def _write_group(self, table: pa.Table) -> None:
        if self._writer is None:
            self._open()
        if self.kind == "jsonl":
            _write_jsonl(self._writer, table)
        else:
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += table.num_rows

    def _open(self) -> None:
        if self.kind == "jsonl":
            self._writer = self._stack.enter_context(open(self._data_path, "w", encoding="utf-8"))
        else:
            self._writer = pq.ParquetWriter(self._data_path, self.schema, compression="snappy")
            self._stack.callback(self._writer.close)

    def close(self) -> None:
        if self._buffered:
            self._flush(self._buffered)
        if self._writer is None:
            if self.schema is None:
                raise NotusDataError(f"{self.path}: nothing to write and no schema given")
            self._open()
        if self.kind != "jsonl":
            self._writer.close()
        if self.kind == "folder":
            _parquet_to_saved_dataset(self._data_path, self._tmp, self._workdir)
            write_marker(self._tmp, self.command)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None:
                self.close()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        self._stack.__exit__(exc_type, exc, tb)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parquet_to_saved_dataset(parquet_path: Path, target: Path, workdir: Path) -> None:
    """Turn a parquet file into a ``save_to_disk`` folder without holding it in memory."""
    import datasets

    stream_path = workdir / "data.arrow"
    pf = pq.ParquetFile(parquet_path)
    with pa.OSFile(str(stream_path), "wb") as sink, pa.ipc.new_stream(sink, pf.schema_arrow) as writer:
        for batch in pf.iter_batches(batch_size=ROW_GROUP_SIZE):
            writer.write_batch(batch)
    ds = datasets.Dataset.from_file(str(stream_path))
    # The fingerprint would otherwise depend on temporary file names; derive it from the content.
    ds._fingerprint = _file_digest(parquet_path)[:16]
    enabled = datasets.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        ds.save_to_disk(str(target))
    finally:
        if enabled:
            datasets.enable_progress_bars()


def write_table(
    table: pa.Table,
    path: str | os.PathLike,
    *,
    row_group_size: int = ROW_GROUP_SIZE,
    command: str = "write",
) -> Path:
    """Write one table atomically (parquet, jsonl or a ``save_to_disk`` folder, by the path's extension)."""
    with AtomicWriter(path, table.schema, row_group_size=row_group_size, command=command) as writer:
        writer.write(table)
    return Path(path)
