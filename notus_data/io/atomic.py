"""Atomic outputs: a file or folder appears at its path only when the run that writes it succeeds.

Outputs are written to a hidden temporary path beside the output and moved into place at the end. Row groups
have a fixed size, so the bytes do not depend on the batch size a run used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.errors import NotusDataError, os_errors
from notus_data.io.paths import ROW_GROUP_SIZE, folder_owner, output_kind, write_marker

TMP_PREFIX = ".notus-tmp-"
_TMP_PID = re.compile(r"^\.notus-tmp-(?:old-)?(\d+)-|-(\d+)-[0-9a-f]{8}$")
log = logging.getLogger("notus_data")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def tmp_name(target: Path, kind: str = "") -> Path:
    """A hidden temporary path beside ``target``: ``.notus-tmp-[kind-]{pid}-{target name}-{random}``, so that a
    later run can tell whether the process that made it still lives (:func:`sweep_stale`)."""
    return target.with_name(f"{TMP_PREFIX}{kind}{os.getpid()}-{target.name}-{uuid.uuid4().hex[:8]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it lives
        return True
    return True


def sweep_stale(folder: Path) -> list[str]:
    """Remove the temporary files and folders that runs killed before they could clean up left in ``folder``
    (their process is gone); a warning says which. Returns their names."""
    swept = []
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if not entry.name.startswith(TMP_PREFIX):
                continue
            found = _TMP_PID.search(entry.name)
            pid = int(next(g for g in found.groups() if g)) if found else None
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            _remove(entry)
            swept.append(entry.name)
    if swept:
        log.warning(
            "removed %d temporary file(s) that a killed run (gone now) left in %s: %s",
            len(swept), folder, ", ".join(sorted(swept)[:5]) + (" ..." if len(swept) > 5 else ""),
        )  # fmt: skip
    return swept


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    An existing folder at ``path`` is replaced only when notus-data wrote it (or it is empty): anything else is
    refused before the temporary path is made, so no user folder is ever deleted. Temporary files of earlier runs
    that were killed are swept first. A file-system error (full disk, read-only, no permission) becomes one
    :class:`~notus_data.errors.OutputError` naming the path and the fix.
    """
    target = Path(path)
    if target.is_dir() and not target.is_symlink() and folder_owner(target) is None:
        from notus_data.errors import OptionError

        raise OptionError(
            f"output: {target} is an existing folder not written by notus-data; it is never replaced. Give a "
            "new path, or move that folder away yourself (nothing was written)"
        )
    blocking = next(
        (p for p in [target.parent, *target.parent.parents] if p.exists() and not p.is_dir()), None
    )
    if blocking is not None:
        from notus_data.errors import OptionError

        raise OptionError(
            f"output: {target}: {blocking} is a file, not a folder, so nothing can be written under it; choose "
            "another path (nothing was written)"
        )
    with os_errors(target.parent, "create the folder"):
        target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    tmp = tmp_name(target)
    try:
        yield tmp
        with os_errors(target):
            if target.is_dir() and not target.is_symlink():
                old = tmp_name(target, "old-")
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
        try:
            with os_errors(self.path):
                return self._enter()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise

    def _enter(self) -> AtomicWriter:
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        if self.kind == "folder":
            self._workdir = Path(
                self._stack.enter_context(
                    tempfile.TemporaryDirectory(
                        dir=self.path.parent, prefix=f"{TMP_PREFIX}{os.getpid()}-work-"
                    )
                )
            )
            self._data_path = self._workdir / "data.parquet"
        else:
            self._data_path = self._tmp
        if self.schema is not None:
            self._open()  # the temporary file exists from the start: nothing half-written hides anywhere else
        return self

    def write(self, table: pa.Table) -> None:
        with os_errors(self.path):
            self._write(table)

    def _write(self, table: pa.Table) -> None:
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
        """Write what is buffered and close the temporary file (the output appears when the writer exits).
        Calling it again does nothing."""
        if getattr(self, "_closed", False):
            return
        with os_errors(self.path):
            self._close()
        self._closed = True

    def _close(self) -> None:
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


def write_report(report: Any, path: str | os.PathLike) -> Path:
    """Write a :class:`~notus_data.report.Report` as JSON to ``path``, atomically."""
    with atomic_path(path) as tmp, os_errors(path):
        tmp.write_text(report.to_json(), encoding="utf-8")
    return Path(path)
