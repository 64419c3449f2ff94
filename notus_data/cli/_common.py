"""Shared pieces of the CLI: options generated from the library's dataclasses, and one-line errors.

Every option is generated from a dataclass field, so a CLI option and the library keyword it maps to always have
the same name (``--min-margin`` <-> ``min_margin``) and the same help text.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

import click

from notus_data.errors import InputError, NotusDataError, os_error

#: Choices offered by click for fields whose values are a fixed set (validated again by the dataclass).
CHOICES: dict[str, tuple[str, ...]] = {}


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return annotation, False


def option_for(f: dataclasses.Field, annotation: Any, *, prefix: str = "") -> Callable:
    """A click option for one dataclass field."""
    name = f"--{prefix}{f.name.replace('_', '-')}"
    help_text = f.metadata.get("help", "")
    default = f.default if f.default is not dataclasses.MISSING else None
    base, _ = _base_type(annotation)
    if base is bool:
        negative = f.metadata.get("negative", f"no-{prefix}{f.name.replace('_', '-')}")
        return click.option(
            f"{name}/--{negative}",
            f.name,
            default=default,
            help=help_text,
            show_default=True,
        )
    if typing.get_origin(base) is tuple:
        shown = ",".join(str(v) for v in default) if default else None
        return click.option(
            name, f.name, type=str, default=shown, help=help_text, show_default=shown is not None
        )
    choices = f.metadata.get("choices")
    click_type = click.Choice(choices) if choices else {int: int, float: float}.get(base, str)
    return click.option(
        name, f.name, type=click_type, default=default, help=help_text, show_default=default is not None
    )


def options_from(*classes: type, exclude: tuple[str, ...] = ()) -> Callable:
    """Decorator adding one option per field of each dataclass (in field order)."""

    def decorate(command: Callable) -> Callable:
        for cls in reversed(classes):
            hints = typing.get_type_hints(cls)
            for f in reversed(dataclasses.fields(cls)):
                if f.name not in exclude and f.init:
                    command = option_for(f, hints[f.name])(command)
        return command

    return decorate


def progress_option(command: Callable) -> Callable:
    return click.option("--progress/--no-progress", default=True, help="show a progress bar on long work")(
        command
    )


def quiet_option(command: Callable) -> Callable:
    return click.option("--quiet", is_flag=True, help="do not print the report table")(command)


def _show_warnings() -> None:
    """The library's warnings (a swept temporary file, an input read on the Ray driver) as one line each."""
    log = logging.getLogger("notus_data")
    if not any(getattr(h, "_notus_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("Warning: %(message)s"))
        handler.setLevel(logging.WARNING)
        handler._notus_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def handle_errors(command: Callable) -> Callable:
    """Turn a user error into one red line on stderr and exit status 1 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # A terminated run unwinds normally, so atomic writes remove their temporary files.
        signal.signal(signal.SIGTERM, _terminate)
        _show_warnings()
        try:
            return command(*args, **kwargs)
        except NotusDataError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(1)
        except OSError as exc:  # a file-system error no step turned into a user error: still one line
            where = exc.filename or "a file"
            click.secho(f"Error: {os_error(exc, where, 'read or write', InputError)}", fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.secho("Interrupted: no output was written.", fg="red", err=True)
            sys.exit(130)

    return wrapper
