"""Typed errors. Every error a user can fix is a :class:`NotusDataError`; the CLI prints it on one line."""

from __future__ import annotations

import importlib
from types import ModuleType


class NotusDataError(Exception):
    """An error the user can fix: bad input, a bad option, a missing optional dependency."""


class SchemaError(NotusDataError):
    """The input is not shaped like the data a step expects (names the file, the field and the expectation)."""


class OptionError(NotusDataError):
    """An option has a value the step cannot use (names the option, the value and what is allowed)."""


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
