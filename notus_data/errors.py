"""Typed errors. Every error a user can fix is a :class:`NotusDataError`; the CLI prints it on one line."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
from collections.abc import Iterator
from types import ModuleType


class NotusDataError(Exception):
    """An error the user can fix: bad input, a bad option, a missing optional dependency."""


class SchemaError(NotusDataError):
    """The input is not shaped like the data a step expects (names the file, the field and the expectation)."""


class OptionError(NotusDataError):
    """An option has a value the step cannot use (names the option, the value and what is allowed)."""


class OutputError(NotusDataError):
    """An output cannot be written (a full disk, a read-only file system, no permission); names the path and the
    fix. Nothing half-written is left behind."""


class InputError(NotusDataError):
    """An input cannot be read (no permission, a damaged file); names the path and the fix."""


#: errno -> what to do about it
_FIXES = {
    errno.ENOSPC: "the disk is full: free some space, or write the output to another disk",
    errno.EDQUOT: "the disk quota is used up: free some space, or write the output to another disk",
    errno.EROFS: "the file system is read-only: write the output to a writable folder",
    errno.EACCES: "permission denied: check the folder's permissions, or choose another path",
    errno.EPERM: "not permitted: check the folder's permissions, or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "the path is a folder: give a file path",
    errno.ENAMETOOLONG: "the path is too long: choose a shorter one",
}


def os_error(
    exc: OSError, path: str | os.PathLike, action: str, kind: type[NotusDataError] = OutputError
) -> NotusDataError:
    """One line for an ``OSError``: the path, what failed, why, and the fix.

    >>> str(os_error(OSError(errno.ENOSPC, "No space left on device"), "out/pairs.parquet", "write"))
    'out/pairs.parquet: cannot write it (No space left on device): the disk is full: free some space, or write the output to another disk; nothing was written'
    """
    text = str(exc).strip()
    reason = exc.strerror or (text.splitlines()[0][:300] if text else type(exc).__name__)
    fix = _FIXES.get(exc.errno or -1, "check the path and the disk")
    tail = "; nothing was written" if kind is OutputError else ""
    return kind(f"{os.fspath(path)}: cannot {action} it ({reason}): {fix}{tail}")


@contextlib.contextmanager
def os_errors(
    path: str | os.PathLike, action: str = "write", kind: type[NotusDataError] = OutputError
) -> Iterator[None]:
    """Turn an ``OSError`` raised inside into :func:`os_error` (a user error), chained from it."""
    try:
        yield
    except OSError as exc:
        raise os_error(exc, path, action, kind) from exc


class MissingDependencyError(NotusDataError):
    """An optional dependency is not installed; the message carries the install line."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra that installs it.

    >>> require("json", "core").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this step needs the '{module}' package: install it with pip install 'notus-data[{extra}]'"
        ) from exc
