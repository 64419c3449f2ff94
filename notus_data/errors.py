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


def check_numbers(options: object) -> None:
    """Refuse a numeric field of an options dataclass that is not a finite number (NaN, inf, a string, a bool),
    naming the field and its CLI option. Every options class calls it first in ``__post_init__``.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Knobs:
    ...     min_margin: float = 0.0
    ...     def __post_init__(self):
    ...         check_numbers(self)
    >>> try:
    ...     Knobs(float("nan"))
    ... except OptionError as exc:
    ...     print(exc)
    min_margin (--min-margin): nan is not a finite number
    """
    import dataclasses
    import math
    import typing

    hints = typing.get_type_hints(type(options))
    for f in dataclasses.fields(options):  # type: ignore[arg-type]
        kinds = _number_kinds(hints.get(f.name))
        if not kinds:
            continue
        value = getattr(options, f.name)
        values = value if isinstance(value, tuple) and "tuple" in kinds else (value,)
        for item in values:
            if item is None and "none" in kinds:
                continue
            ok = isinstance(item, (int, float)) and not isinstance(item, bool)
            if ok and "float" not in kinds and not float(item).is_integer():
                ok = False
            if not ok or not math.isfinite(item):
                expected = "a whole number" if "float" not in kinds else "a finite number"
                raise OptionError(f"{f.name} (--{f.name.replace('_', '-')}): {item!r} is not {expected}")


def number_list(value: object, name: str) -> tuple[float, ...] | None:
    """A list of numbers given as "1,2.5" or a sequence, or None; a value that is no number names the option.

    >>> number_list("2, 1", "weights")
    (2.0, 1.0)
    """
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    out = []
    for item in items:
        try:
            if isinstance(item, bool):
                raise ValueError
            out.append(float(item))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise OptionError(
                f"{name} (--{name.replace('_', '-')}): {item!r} is not a number; give numbers separated by commas"
            ) from None
    return tuple(out)


def _number_kinds(annotation: object) -> set[str]:
    """Which numeric kinds a field annotation allows: {"int"}, {"float"}, with "none" and "tuple" as they apply."""
    import types
    import typing

    kinds: set[str] = set()
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    for arg in args:
        if arg is type(None):
            kinds.add("none")
        elif arg is float:
            kinds.add("float")
        elif arg is int:
            kinds.add("int")
        elif typing.get_origin(arg) is tuple:
            inner = typing.get_args(arg)
            if inner and inner[0] in (int, float):
                kinds |= {"tuple", "float" if inner[0] is float else "int"}
    return kinds if kinds - {"none", "tuple"} else set()
