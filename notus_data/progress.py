"""Progress on long work: a rich progress bar on stderr, or nothing (the library default)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class _Silent:
    def advance(self, rows: int) -> None:
        pass


class _Bar:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, rows: int) -> None:
        self._progress.advance(self._task, rows)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """Yield an object with ``advance(rows)``; draws a bar on stderr when ``enabled`` and stderr is a terminal."""
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        yield _Bar(progress, progress.add_task(description, total=total))
