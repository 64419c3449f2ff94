"""The contract of a source format, and the options that choose and configure one.

A format is a class with a ``name``, the columns that identify it (:meth:`SourceFormat.matches`, for detection),
a schema check (:meth:`SourceFormat.check`, before any row is read) and either

- ``prepare(raw, start) -> (canonical, problems)``: one raw batch to canonical rows, row for row; or
- ``grouped = True`` with ``prompt_column`` and ``responses(raw, start) -> (rows, problems)``: one row per
  response (``input_row``, ``instruction``, ``response``, ``model``, ``score``, ``source``), gathered by prompt
  text (:class:`~notus_data.sources.base.Grouper`) into canonical rows by :meth:`SourceFormat.assemble`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError
from notus_data.sources.base import canonical, join_problems

#: The source formats a user can name (``--source-format``); ``ultrafeedback`` is the default schema.
FORMAT_NAMES = (
    "ultrafeedback",
    "helpsteer2",
    "helpsteer2-preference",
    "nectar",
    "hh-rlhf",
    "rm-scored",
    "columns",
)


@dataclass
class SourceOptions:
    """Which schema the input has and how its rows become prompts with scored responses. Every field is also a CLI
    option of the same name."""

    source_format: str | None = field(
        default=None,
        metadata={
            "help": "the input's schema (default: detected from its columns): " + ", ".join(FORMAT_NAMES),
            "choices": FORMAT_NAMES,
        },
    )
    columns: str | None = field(
        default=None,
        metadata={
            "help": "columns source: prompt=COL,responses=COL,scores=COL (list columns), or "
            "prompt=COL,response=COL,score=COL (one row per response, grouped by prompt); model(s)=COL optional"
        },
    )
    higher_is_better: bool = field(
        default=True,
        metadata={
            "help": "columns source: a higher score is better (--lower-is-better for ranks)",
            "negative": "lower-is-better",
        },
    )

    def __post_init__(self) -> None:
        if self.source_format is not None and self.source_format not in FORMAT_NAMES:
            raise OptionError(
                f"source_format: {self.source_format!r} is not a source format; choose one of {', '.join(FORMAT_NAMES)}"
            )
        if self.columns is not None and not isinstance(self.columns, str):
            if isinstance(self.columns, dict):
                self.columns = ",".join(f"{k}={v}" for k, v in self.columns.items())
            else:
                raise OptionError(
                    f"columns: {self.columns!r} must be KEY=COL pairs, e.g. prompt=question,responses=answers"
                )
        if self.columns is not None and self.source_format is None:
            self.source_format = "columns"
        self.higher_is_better = bool(self.higher_is_better)


class SourceFormat:
    """One input schema (see the module docstring)."""

    name = ""
    grouped = False
    prompt_column = "prompt"
    #: Columns read from the input (None: all).
    read: tuple[str, ...] | None = None

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        raise NotImplementedError

    def check(self, schema: pa.Schema, origin: str) -> None:
        raise NotImplementedError

    def columns(self) -> list[str] | None:
        return None if self.read is None else list(self.read)

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        raise NotImplementedError

    def responses(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        raise NotImplementedError

    def assemble(self, rows: pa.Table) -> pa.Table:
        """Canonical rows from grouped per-response rows (sorted by ``group``, then ``input_row``)."""
        group = rows.column("group").to_numpy()
        first = np.concatenate([[True], group[1:] != group[:-1]]) if len(group) else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        lengths = np.diff(np.append(starts, len(group)))
        at = pa.array(starts)
        return canonical(
            row_index=group[starts],
            source=rows.column("source").combine_chunks().take(at),
            instruction=rows.column("instruction").combine_chunks().take(at),
            lengths=lengths,
            response=rows.column("response").combine_chunks(),
            model=rows.column("model").combine_chunks(),
            score=rows.column("score").combine_chunks().to_numpy(zero_copy_only=False).astype(np.float64),
        )


def response_rows(
    start: int,
    source: Any,
    instruction: pa.Array,
    response: pa.Array,
    model: pa.Array | None,
    score: np.ndarray,
) -> pa.Table:
    """The per-response rows of a grouped format."""
    n = len(instruction)
    if source is None or isinstance(source, str):
        source = pa.array([source] * n, pa.string())
    return pa.table(
        {
            "input_row": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "source": source.cast(pa.string()),
            "instruction": instruction.cast(pa.string()),
            "response": response.cast(pa.string()),
            "model": pa.nulls(n, pa.string()) if model is None else model.cast(pa.string()),
            "score": pa.array(score, pa.float64(), mask=np.isnan(score)),
        }
    )


def null_response_problems(response: pa.Array, start: int, field_name: str) -> list[pa.Table]:
    from notus_data.sources.base import problems

    missing = ~pc.is_valid(response).to_numpy(zero_copy_only=False)
    if not missing.any():
        return []
    rows = np.flatnonzero(missing) + start
    return [problems(rows, field_name, [None] * len(rows), "null_response")]


__all__ = ["FORMAT_NAMES", "SourceFormat", "SourceOptions", "join_problems", "response_rows"]
