"""The UltraFeedback schema: the canonical table every step reads, and the check of a raw input's schema.

Raw openbmb/UltraFeedback rows nest four aspect ratings, as strings ("1".."5" or "N/A"), inside each completion;
copies of the data differ (an aspect as a struct or as a one-item list, ``fine-grained_score`` missing, numbers
instead of strings). :func:`notus_data.normalize.normalize_batch` turns any of them into one canonical table that
every later step reads::

    row_index: int64           position of the row in the input
    prompt_id: string          sha256 hex of the instruction
    source: string             ("unknown" where the input has none)
    instruction: string
    completions: list<struct<model, response, critique, overall_score, fine_grained_score,
                             instruction_following, honesty, truthfulness, helpfulness>>

Ratings become numbers; "N/A" and missing ones become null. Where the input has no ``fine-grained_score`` field
at all, it is recomputed as the mean of the four aspect ratings. A value that is neither a rating nor "N/A" (a rating
"seven", an overall_score of 42) becomes null too, and is reported as a problem naming its row and field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError

ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
NA_VALUES = ("n/a", "na", "none", "null", "nan")

COMPLETION_TYPE = pa.struct(
    [
        ("model", pa.string()),
        ("response", pa.string()),
        ("critique", pa.string()),
        ("overall_score", pa.float64()),
        ("fine_grained_score", pa.float64()),
        *[(aspect, pa.float64()) for aspect in ASPECTS],
    ]
)
CANONICAL_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("instruction", pa.string()),
        ("completions", pa.list_(COMPLETION_TYPE)),
    ]
)
UNKNOWN_SOURCE = "unknown"


def is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _is_number_or_string(t: pa.DataType) -> bool:
    return is_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)


@dataclass(frozen=True)
class RawLayout:
    """What a raw input holds, read from its schema before any row is touched."""

    origin: str
    has_source: bool
    has_models: bool
    completion_fields: frozenset[str]
    aspects: dict[str, str] = field(default_factory=dict)  # aspect -> "struct" | "list"

    @property
    def has_ratings(self) -> bool:
        return bool(self.aspects)


def check_raw_schema(schema: pa.Schema, origin: str) -> RawLayout:
    """Check that ``schema`` is UltraFeedback-shaped; raise :class:`SchemaError` naming the field and the fix.

    Accepted variants: an aspect as a struct or a one-item list of structs; ``fine-grained_score``, ``critique``,
    ``model``, ``source``, ``models`` and any aspect missing; ratings and scores as strings or numbers.
    """

    def fail(field_name: str, expected: str, got: object) -> SchemaError:
        return SchemaError(
            f"{origin}: field '{field_name}' {got}; expected {expected}. "
            "Is this openbmb/UltraFeedback-shaped data (source, instruction, completions)?"
        )

    names = set(schema.names)
    if "instruction" not in names:
        raise fail(
            "instruction", "a string column holding the prompt", f"is missing (columns: {sorted(names)})"
        )
    if not is_string(schema.field("instruction").type):
        raise fail("instruction", "a string column", f"has type {schema.field('instruction').type}")
    if "source" in names and not is_string(schema.field("source").type):
        raise fail("source", "a string column", f"has type {schema.field('source').type}")
    if "completions" not in names:
        raise fail("completions", "a list of completion structs", f"is missing (columns: {sorted(names)})")
    ctype = schema.field("completions").type
    if not _is_list(ctype) or not pa.types.is_struct(ctype.value_type):
        raise fail(
            "completions",
            "a list of structs (model, response, overall_score, annotations)",
            f"has type {ctype}",
        )
    ctype = ctype.value_type
    cfields = {ctype.field(i).name: ctype.field(i).type for i in range(ctype.num_fields)}
    if "response" not in cfields:
        raise fail(
            "completions[].response", "a string field", f"is missing (completion fields: {sorted(cfields)})"
        )
    for name in ("response", "model", "critique"):
        if name in cfields and not (is_string(cfields[name]) or pa.types.is_null(cfields[name])):
            raise fail(f"completions[].{name}", "a string", f"has type {cfields[name]}")
    for name in ("overall_score", "fine-grained_score"):
        if name in cfields and not _is_number_or_string(cfields[name]):
            raise fail(f"completions[].{name}", "a number", f"has type {cfields[name]}")
    if "models" in names:
        mtype = schema.field("models").type
        if not (_is_list(mtype) and (is_string(mtype.value_type) or pa.types.is_null(mtype.value_type))):
            raise fail("models", "a list of strings", f"has type {mtype}")
    aspects: dict[str, str] = {}
    if "annotations" in cfields:
        atype = cfields["annotations"]
        if not pa.types.is_struct(atype):
            raise fail("completions[].annotations", "a struct of the four aspects", f"has type {atype}")
        for i in range(atype.num_fields):
            aspect = atype.field(i)
            if aspect.name not in ASPECTS:
                continue
            form, inner = "struct", aspect.type
            if _is_list(inner):
                form, inner = "list", inner.value_type
            if not pa.types.is_struct(inner) or inner.get_field_index("Rating") < 0:
                raise fail(
                    f"completions[].annotations.{aspect.name}",
                    "a struct {Rating, Rationale, ...} or a one-item list of it",
                    f"has type {aspect.type}",
                )
            if not _is_number_or_string(inner.field("Rating").type):
                raise fail(
                    f"completions[].annotations.{aspect.name}.Rating",
                    'a string ("1".."5" or "N/A") or a number',
                    f"has type {inner.field('Rating').type}",
                )
            aspects[aspect.name] = form
    return RawLayout(
        origin=origin,
        has_source="source" in names,
        has_models="models" in names,
        completion_fields=frozenset(cfields),
        aspects=aspects,
    )


def needed_columns(*, with_critique: bool = False) -> dict[str, list[str]]:
    """Top-level column -> the nested field paths a normalization reads (for column projection).

    Parquet readers project the nested paths; other readers select the top-level columns (the keys).
    """
    completion = ["model", "response", "overall_score", "fine-grained_score"]
    if with_critique:
        completion.append("critique")
    completion += [f"annotations.{aspect}.Rating" for aspect in ASPECTS]
    return {"source": [], "instruction": [], "models": [], "completions": completion}


def combine(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def column_array(table: pa.Table, name: str) -> pa.Array:
    """One column as a single array (no copy when the column has one chunk, as canonical batches do)."""
    return combine(table.column(name))


def completions_flat(table: pa.Table) -> pa.StructArray:
    """All completions of a canonical table as one flat struct array, in row order."""
    return column_array(table, "completions").flatten()


def list_parts(array: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Split a list array into (lengths, starts into the flat values, flat values); a null list has length 0."""
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    return lengths, starts, array.flatten()


def sha256_hex(values: pa.Array) -> pa.Array:
    """sha256 hex digest of each string (utf-8); null stays null. This is ``prompt_id``."""
    return pa.array(
        [None if v is None else hashlib.sha256(v.encode("utf-8")).hexdigest() for v in values.to_pylist()],
        type=pa.string(),
    )


def invalid_rows(table: pa.Table) -> np.ndarray:
    """Rows of a canonical table that are broken as a whole (null instruction or null completions list)."""
    return ~(
        pc.is_valid(table.column("instruction")).to_numpy(zero_copy_only=False)
        & pc.is_valid(table.column("completions")).to_numpy(zero_copy_only=False)
    )
