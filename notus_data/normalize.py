"""Normalize raw UltraFeedback batches to the canonical table (:data:`~notus_data.schema.CANONICAL_SCHEMA`).

Ratings become numbers; "N/A" and missing ones become null. Where the input has no ``fine-grained_score`` field
at all, it is recomputed as the mean of the four aspect ratings. A value that is neither a rating nor "N/A" (a rating
"seven", an overall_score of 42) becomes null too, and is reported as a problem naming its row and field
(:data:`PROBLEM_SCHEMA`, with the rule that was applied).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.schema import (
    ASPECTS,
    CANONICAL_SCHEMA,
    COMPLETION_TYPE,
    NA_VALUES,
    UNKNOWN_SOURCE,
    RawLayout,
    combine,
    is_string,
    list_parts,
    sha256_hex,
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


def parse_numbers(values: pa.Array, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Parse ratings or scores given as strings or numbers.

    Returns (numbers, invalid): numbers is float64 with NaN for null, "N/A" and invalid values; invalid marks
    values that are neither a number in [low, high] nor null / "N/A".
    """
    if pa.types.is_null(values.type):
        return np.full(len(values), np.nan), np.zeros(len(values), dtype=bool)
    if is_string(values.type):
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

    instruction = combine(raw.column("instruction")).cast(pa.string())
    if layout.has_source:
        source = pc.fill_null(combine(raw.column("source")).cast(pa.string()), UNKNOWN_SOURCE)
    else:
        source = pa.array([UNKNOWN_SOURCE] * n, type=pa.string())
    comps = combine(raw.column("completions"))
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
        m_lengths, m_starts, m_flat = list_parts(combine(raw.column("models")))
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
