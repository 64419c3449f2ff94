"""Invalid UTF-8 in an input: found, repaired by a stated rule, and counted as a problem naming the row and field.

Some JSON lines files (and parquet files written by other tools) hold bytes that are not UTF-8 inside string
fields. Arrow reads them into string arrays that are not valid, which other tools (pandas, datasets) then cannot
read back. The rule: every invalid byte sequence is replaced by U+FFFD (the Unicode replacement character) and
the rest of the row is kept; each repaired value is a problem of kind ``invalid_utf8`` in the run's report, with
its row and field.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

RULE = "invalid UTF-8 bytes replaced by U+FFFD; the rest of the row is kept"
KIND = "invalid_utf8"


def _valid(array: pa.Array) -> bool:
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _repair(array: pa.Array, rows: np.ndarray, field: str, found: list[dict[str, Any]]) -> pa.Array:
    """``array`` with its invalid strings repaired; ``rows`` maps each element to its input row."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if _valid(array):
            return array
        values = array.cast(pa.large_binary() if pa.types.is_large_string(kind) else pa.binary()).to_pylist()
        fixed = []
        for i, value in enumerate(values):
            if value is None:
                fixed.append(None)
                continue
            try:
                fixed.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                text = value.decode("utf-8", "replace")
                fixed.append(text)
                found.append({"row_index": int(rows[i]), "field": field, "value": text[:80]})
        return pa.array(fixed, type=kind)
    if pa.types.is_struct(kind):
        if _valid(array):
            return array
        children = [
            _repair(array.field(i), rows, f"{field}.{kind.field(i).name}", found)
            for i in range(kind.num_fields)
        ]
        return pa.StructArray.from_arrays(
            children, fields=list(kind), mask=array.is_null() if array.null_count else None
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if _valid(array):
            return array
        offsets = array.offsets.to_numpy()
        lengths = np.diff(offsets)
        parents = np.repeat(rows, lengths)
        start, end = int(offsets[0]), int(offsets[-1])
        values = _repair(array.values.slice(start, end - start), parents, f"{field}[]", found)
        return type(array).from_arrays(
            pa.array(offsets - start, type=array.offsets.type),
            values,
            mask=array.is_null() if array.null_count else None,
        )
    return array


def repair_utf8(table: pa.Table, start: int) -> tuple[pa.Table, pa.Table | None]:
    """(``table`` with every invalid UTF-8 string repaired, the problems found, or None when there are none).

    Checking a valid batch costs one full validation of its arrays (fast); repairing touches only the columns
    that hold an invalid value.
    """
    if _valid_table(table):
        return table, None
    rows = np.arange(start, start + table.num_rows, dtype=np.int64)
    found: list[dict[str, Any]] = []
    columns = []
    for name in table.column_names:
        column = table.column(name)
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        columns.append(_repair(array, rows, name, found))
    table = pa.Table.from_arrays(columns, schema=table.schema)
    return table, problems_table(found) if found else None


def _valid_table(table: pa.Table) -> bool:
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def problems_table(found: list[dict[str, Any]]) -> pa.Table:
    """Problems (:data:`notus_data.normalize.PROBLEM_SCHEMA` columns) for repaired values."""
    from notus_data.normalize import PROBLEM_SCHEMA

    return pa.table(
        {
            "row_index": pa.array([f["row_index"] for f in found], pa.int64()),
            "field": pa.array([f["field"] for f in found], pa.string()),
            "value": pa.array([f["value"] for f in found], pa.string()),
            "kind": pa.array([KIND] * len(found), pa.string()),
            "rule": pa.array([RULE] * len(found), pa.string()),
        },
        schema=PROBLEM_SCHEMA,
    )
