"""The UltraFeedback schema: validate a raw input's schema, and normalize raw batches to the canonical table.

Raw openbmb/UltraFeedback rows nest four aspect ratings, as strings ("1".."5" or "N/A"), inside each completion;
copies of the data differ (an aspect as a struct or as a one-item list, ``fine-grained_score`` missing, numbers
instead of strings). :func:`normalize_batch` turns any of them into one canonical table that every later step
reads::

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
PROBLEM_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("field", pa.string()),
        ("value", pa.string()),
        ("kind", pa.string()),
        ("rule", pa.string()),
    ]
)
RULES = {
    "null_instruction": "the row gives no pair (invalid_row)",
    "null_completions": "the row gives no pair (invalid_row)",
    "null_completion": "the completion takes no part in pairing",
    "null_response": "the completion takes no part in pairing",
    "invalid_rating": "the rating is ignored; the completion is scored on its other aspects",
    "invalid_overall_score": "the overall_score is ignored (null): the completion has no overall score",
    "invalid_fine_grained_score": "the fine-grained_score is ignored (null)",
}
UNKNOWN_SOURCE = "unknown"


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _is_number_or_string(t: pa.DataType) -> bool:
    return _is_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)


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
    if not _is_string(schema.field("instruction").type):
        raise fail("instruction", "a string column", f"has type {schema.field('instruction').type}")
    if "source" in names and not _is_string(schema.field("source").type):
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
        if name in cfields and not (_is_string(cfields[name]) or pa.types.is_null(cfields[name])):
            raise fail(f"completions[].{name}", "a string", f"has type {cfields[name]}")
    for name in ("overall_score", "fine-grained_score"):
        if name in cfields and not _is_number_or_string(cfields[name]):
            raise fail(f"completions[].{name}", "a number", f"has type {cfields[name]}")
    if "models" in names:
        mtype = schema.field("models").type
        if not (_is_list(mtype) and (_is_string(mtype.value_type) or pa.types.is_null(mtype.value_type))):
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


def _combine(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def column_array(table: pa.Table, name: str) -> pa.Array:
    """One column as a single array (no copy when the column has one chunk, as canonical batches do)."""
    return _combine(table.column(name))


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


def parse_numbers(values: pa.Array, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Parse ratings or scores given as strings or numbers.

    Returns (numbers, invalid): numbers is float64 with NaN for null, "N/A" and invalid values; invalid marks
    values that are neither a number in [low, high] nor null / "N/A".
    """
    if pa.types.is_null(values.type):
        return np.full(len(values), np.nan), np.zeros(len(values), dtype=bool)
    if _is_string(values.type):
        text = pc.utf8_trim_whitespace(values.cast(pa.string()))
        na = pc.or_(
            pc.is_null(text),
            pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=pa.array(NA_VALUES)), False),
        )
        numeric = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"), False)
        parsed = pc.if_else(numeric, text, pa.scalar(None, pa.string())).cast(pa.float64())
        numbers = parsed.to_numpy(zero_copy_only=False).astype(np.float64)
        not_number = ~na.to_numpy(zero_copy_only=False) & ~numeric.to_numpy(zero_copy_only=False)
    else:
        numbers = values.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        not_number = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        out_of_range = ~np.isnan(numbers) & ((numbers < low) | (numbers > high))
    numbers[out_of_range] = np.nan
    return numbers, not_number | out_of_range


def _null_string(n: int) -> pa.Array:
    return pa.nulls(n, type=pa.string())


def _problems(
    rows: np.ndarray, fields: list[str], values: list[object], kind: str
) -> pa.Table:  # built only for the few bad positions
    return pa.table(
        {
            "row_index": pa.array(rows, type=pa.int64()),
            "field": pa.array(fields, type=pa.string()),
            "value": pa.array([None if v is None else str(v) for v in values], type=pa.string()),
            "kind": pa.array([kind] * len(rows), type=pa.string()),
            "rule": pa.array([RULES[kind]] * len(rows), type=pa.string()),
        },
        schema=PROBLEM_SCHEMA,
    )


def normalize_batch(
    raw: pa.Table, layout: RawLayout, *, row_offset: int = 0, with_critique: bool = False
) -> tuple[pa.Table, pa.Table]:
    """Turn a raw UltraFeedback batch into the canonical table; returns (canonical, problems).

    ``row_offset`` is the input position of the batch's first row, so that ``row_index`` and the problems name
    rows of the whole input, whatever the batch size.
    """
    n = raw.num_rows
    row_index = np.arange(row_offset, row_offset + n, dtype=np.int64)
    problems: list[pa.Table] = []

    instruction = _combine(raw.column("instruction")).cast(pa.string())
    if layout.has_source:
        source = pc.fill_null(_combine(raw.column("source")).cast(pa.string()), UNKNOWN_SOURCE)
    else:
        source = pa.array([UNKNOWN_SOURCE] * n, type=pa.string())
    comps = _combine(raw.column("completions"))
    lengths, _, flat = list_parts(comps)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    total = len(flat)
    comp_row = np.repeat(np.arange(n), lengths)
    comp_idx = np.arange(total) - np.repeat(offsets[:-1], lengths)

    def where(mask: np.ndarray, name: str) -> list[str]:
        return [f"completions[{i}].{name}" for i in comp_idx[mask]]

    null_instruction = ~pc.is_valid(instruction).to_numpy(zero_copy_only=False)
    if null_instruction.any():
        problems.append(
            _problems(
                row_index[null_instruction],
                ["instruction"] * int(null_instruction.sum()),
                [None] * int(null_instruction.sum()),
                "null_instruction",
            )
        )
    null_list = ~pc.is_valid(comps).to_numpy(zero_copy_only=False)
    if null_list.any():
        problems.append(
            _problems(
                row_index[null_list],
                ["completions"] * int(null_list.sum()),
                [None] * int(null_list.sum()),
                "null_completions",
            )
        )

    null_comp = ~pc.is_valid(flat).to_numpy(zero_copy_only=False)
    if null_comp.any():
        problems.append(
            _problems(
                row_index[comp_row[null_comp]],
                [f"completions[{i}]" for i in comp_idx[null_comp]],
                [None] * int(null_comp.sum()),
                "null_completion",
            )
        )

    def child(name: str) -> pa.Array | None:
        return pc.struct_field(flat, name) if name in layout.completion_fields else None

    response = child("response").cast(pa.string())
    null_response = ~null_comp & ~pc.is_valid(response).to_numpy(zero_copy_only=False)
    if null_response.any():
        problems.append(
            _problems(
                row_index[comp_row[null_response]],
                where(null_response, "response"),
                [None] * int(null_response.sum()),
                "null_response",
            )
        )

    model = child("model")
    model = model.cast(pa.string()) if model is not None else _null_string(total)
    if layout.has_models and model.null_count:
        m_lengths, m_starts, m_flat = list_parts(_combine(raw.column("models")))
        has = comp_idx < m_lengths[comp_row]
        take = pa.array(np.where(has, m_starts[comp_row] + comp_idx, 0), mask=~has)
        model = pc.coalesce(model, m_flat.cast(pa.string()).take(take)) if len(m_flat) else model

    critique = child("critique") if with_critique else None
    critique = critique.cast(pa.string()) if critique is not None else _null_string(total)

    def numbers(values: pa.Array | None, name: str, low: float, high: float, kind: str) -> np.ndarray:
        if values is None:
            return np.full(total, np.nan)
        parsed, invalid = parse_numbers(values, low, high)
        if invalid.any():
            bad = values.filter(pa.array(invalid)).to_pylist()
            problems.append(_problems(row_index[comp_row[invalid]], where(invalid, name), bad, kind))
        return parsed

    overall = numbers(child("overall_score"), "overall_score", 1, 10, "invalid_overall_score")
    fine = numbers(child("fine-grained_score"), "fine-grained_score", 1, 5, "invalid_fine_grained_score")

    ratings: dict[str, np.ndarray] = {}
    annotations = child("annotations")
    for aspect in ASPECTS:
        form = layout.aspects.get(aspect)
        if form is None:
            ratings[aspect] = np.full(total, np.nan)
            continue
        node = pc.struct_field(annotations, aspect)
        if form == "list":
            a_lengths, a_starts, a_flat = list_parts(node)
            has = a_lengths >= 1
            node = (
                a_flat.take(pa.array(np.where(has, a_starts, 0), mask=~has))
                if len(a_flat)
                else pa.nulls(total, node.type.value_type)
            )
        ratings[aspect] = numbers(
            pc.struct_field(node, "Rating"), f"annotations.{aspect}.Rating", 1, 5, "invalid_rating"
        )

    if "fine-grained_score" not in layout.completion_fields:
        # Not in every revision of the data (RECIPE.md): recompute it as the mean of the four aspect ratings.
        stacked = np.column_stack([ratings[a] for a in ASPECTS])
        usable = (~np.isnan(stacked)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            fine = np.where(usable > 0, np.nansum(stacked, axis=1) / np.maximum(usable, 1), np.nan)

    struct = pa.StructArray.from_arrays(
        [
            model,
            response,
            critique,
            pa.array(overall, from_pandas=True),
            pa.array(fine, from_pandas=True),
            *[pa.array(ratings[a], from_pandas=True) for a in ASPECTS],
        ],
        fields=list(COMPLETION_TYPE),
    )
    completions = pa.ListArray.from_arrays(pa.array(offsets), struct, mask=pa.array(null_list))
    table = pa.Table.from_arrays(
        [pa.array(row_index), sha256_hex(instruction), source, instruction, completions],
        schema=CANONICAL_SCHEMA,
    )
    if problems:
        problem_table = pa.concat_tables(problems).sort_by(
            [("row_index", "ascending"), ("field", "ascending")]
        )
    else:
        problem_table = PROBLEM_SCHEMA.empty_table()
    return table, problem_table


def invalid_rows(table: pa.Table) -> np.ndarray:
    """Rows of a canonical table that are broken as a whole (null instruction or null completions list)."""
    return ~(
        pc.is_valid(table.column("instruction")).to_numpy(zero_copy_only=False)
        & pc.is_valid(table.column("completions")).to_numpy(zero_copy_only=False)
    )
