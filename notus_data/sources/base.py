"""What every source format shares: the canonical table it makes, its problems, and per-response grouping.

A source format turns one raw batch of its schema into the canonical table of :mod:`notus_data.schema` (one row
per prompt, its responses as ``completions``) plus two columns only these formats give:

- ``prompt_messages`` (``list<struct<content, role>>``, :data:`notus_data.formats.MESSAGES_TYPE`): the conversation
  up to and including the last user turn, or null for a one-turn prompt (then ``instruction`` is that turn);
  ``instruction`` is always the last user turn's text (decontamination matches it);
- ``source_score`` (``list<double>``, aligned with ``completions``): the score the format's rules give each
  response (null: the response takes no part in pairing); the score step's ``source-score`` ranks by it.

``prompt_id`` is the sha256 hex of ``instruction`` for a one-turn prompt (as for UltraFeedback), and of the
conversation as compact JSON (``[{"content": ..., "role": ...}, ...]``, keys sorted, UTF-8) for a multi-turn one,
so two conversations that end with the same question are two prompts.

A bad value is a problem row (``row_index`` of the INPUT row, the field, the value, its kind, the rule applied);
a row that cannot give a prompt at all has null completions (the binarizer counts it as ``invalid_row``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError
from notus_data.formats import MESSAGES_TYPE
from notus_data.normalize import PROBLEM_SCHEMA
from notus_data.schema import (
    CANONICAL_SCHEMA,
    COMPLETION_TYPE,
    UNKNOWN_SOURCE,
    combine,
    is_string,
    list_parts,
    sha256_hex,
)

PROMPT_MESSAGES = "prompt_messages"
SOURCE_SCORE = "source_score"
SOURCE_SCHEMA = CANONICAL_SCHEMA.append(pa.field(PROMPT_MESSAGES, MESSAGES_TYPE)).append(
    pa.field(SOURCE_SCORE, pa.list_(pa.float64()))
)
#: What each problem kind of the source formats means and the rule applied (added to normalize.RULES' kinds).
SOURCE_RULES = {
    "invalid_rating": "the response has no score (a rating its score needs is not an integer in range)",
    "invalid_score": "the response has no score (the value is not a number)",
    "invalid_rank": "the answer has no score (the rank is not a positive integer)",
    "null_response": "the response takes no part in pairing",
    "null_prompt": "the row gives no prompt (invalid_row)",
    "unparsable_turns": "the row gives no prompt (invalid_row): its text does not parse into Human/Assistant turns",
    "answer_has_turns": "the answer is excluded: it holds Human:/Assistant: turn markers of its own",
    "identical_pair": "the row gives no pair (invalid_row): chosen and rejected are the same text",
    "empty_turn": "the row gives no pair (invalid_row): the chosen or rejected turn is empty",
    "lengths_differ": "the row gives no prompt (invalid_row): its responses and scores are lists of different lengths",
}


def problems(rows: np.ndarray, field: str | list[str], values: list[object], kind: str) -> pa.Table:
    """A problems table (:data:`notus_data.normalize.PROBLEM_SCHEMA`) for the few bad positions."""
    n = len(rows)
    fields = [field] * n if isinstance(field, str) else field
    return pa.table(
        {
            "row_index": pa.array(np.asarray(rows, dtype=np.int64), type=pa.int64()),
            "field": pa.array(fields, type=pa.string()),
            "value": pa.array([None if v is None else str(v)[:200] for v in values], type=pa.string()),
            "kind": pa.array([kind] * n, type=pa.string()),
            "rule": pa.array([SOURCE_RULES[kind]] * n, type=pa.string()),
        },
        schema=PROBLEM_SCHEMA,
    )


def join_problems(found: list[pa.Table]) -> pa.Table:
    found = [p for p in found if p is not None and p.num_rows]
    if not found:
        return PROBLEM_SCHEMA.empty_table()
    return pa.concat_tables(found).sort_by([("row_index", "ascending"), ("field", "ascending")])


def text(table: pa.Table, name: str) -> pa.Array:
    return combine(table.column(name)).cast(pa.string())


def prompt_ids(instruction: pa.Array, messages: pa.Array | None) -> pa.Array:
    """``prompt_id`` per row: sha256 of the instruction, or of the conversation's JSON where it has several turns."""
    if messages is None:
        return sha256_hex(instruction)
    keys = [
        json.dumps(conv, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if conv is not None and len(conv) > 1
        else value
        for value, conv in zip(instruction.to_pylist(), messages.to_pylist(), strict=False)
    ]
    return sha256_hex(pa.array(keys, type=pa.string()))


def canonical(
    *,
    row_index: np.ndarray,
    source: pa.Array | str | None,
    instruction: pa.Array,
    lengths: np.ndarray,
    response: pa.Array,
    model: pa.Array | None,
    score: np.ndarray,
    messages: pa.Array | None = None,
    broken: np.ndarray | None = None,
) -> pa.Table:
    """The canonical table (:data:`SOURCE_SCHEMA`) from flat responses: row ``i`` owns the next ``lengths[i]``."""
    n = len(row_index)
    total = int(np.sum(lengths))
    if source is None or isinstance(source, str):
        source = pa.array([source or UNKNOWN_SOURCE] * n, type=pa.string())
    else:
        source = pc.fill_null(source.cast(pa.string()), UNKNOWN_SOURCE)
    model = pa.nulls(total, pa.string()) if model is None else model.cast(pa.string())
    nulls = pa.nulls(total, pa.float64())
    struct = pa.StructArray.from_arrays(
        [model, response.cast(pa.string()), pa.nulls(total, pa.string()), *[nulls] * 6],
        fields=list(COMPLETION_TYPE),
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    mask = None if broken is None else pa.array(np.asarray(broken, dtype=bool))
    completions = pa.ListArray.from_arrays(offsets, struct, mask=mask)
    scores = pa.ListArray.from_arrays(
        offsets, pa.array(score, type=pa.float64(), mask=np.isnan(score)), mask=mask
    )
    if messages is None:
        messages = pa.nulls(n, MESSAGES_TYPE)
    return pa.Table.from_arrays(
        [pa.array(row_index, pa.int64()), prompt_ids(instruction, messages), source, instruction, completions,
         messages.cast(MESSAGES_TYPE), scores],
        schema=SOURCE_SCHEMA,
    )  # fmt: skip


def need(schema: pa.Schema, origin: str, name: str, columns: dict[str, str], fmt: str) -> None:
    """Fail with one line naming the column and the fix unless ``columns`` (name -> 'string' | 'list' | 'number')
    are in ``schema`` with a fitting type."""
    for column, kind in columns.items():
        if column not in schema.names:
            raise SchemaError(
                f"{origin}: column '{column}' is missing (columns: {sorted(schema.names)}); the {fmt} source needs "
                f"{', '.join(columns)} (or name another with --source-format)"
            )
        t = schema.field(column).type
        ok = {
            "string": is_string(t) or pa.types.is_null(t),
            "list": pa.types.is_list(t) or pa.types.is_large_list(t),
            "number": pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or is_string(t)
            or pa.types.is_null(t),
            "any": True,
        }[kind]
        if not ok:
            raise SchemaError(
                f"{origin}: column '{column}' has type {t}; the {fmt} source needs a {kind} column"
            )


# ------------------------------------------------------------------------------------------------ grouping


@dataclass
class GroupIndex:
    """Where each prompt's rows are: built in a first pass over the prompt column only.

    ``group[r]`` is the prompt number of input row ``r`` (prompts numbered in order of first appearance);
    ``last[g]`` the input row of prompt ``g``'s last response.
    """

    group: np.ndarray
    last: np.ndarray

    @classmethod
    def build(cls, prompts: Iterator[pa.Array]) -> GroupIndex:
        seen: dict[bytes, int] = {}
        groups: list[np.ndarray] = []
        for column in prompts:
            ids = np.empty(len(column), dtype=np.int64)
            for i, value in enumerate(column.to_pylist()):
                key = (
                    b"\x00"
                    if value is None
                    else b"\x01" + hashlib.blake2b(value.encode(), digest_size=16).digest()
                )
                ids[i] = seen.setdefault(key, len(seen))
            groups.append(ids)
        group = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
        last = np.full(len(seen), -1, dtype=np.int64)
        last[group] = np.arange(len(group))  # later rows overwrite earlier ones
        return cls(group, last)


class Grouper:
    """Per-response rows (a table with ``input_row`` and per-response columns) gathered into whole prompts.

    A prompt is given out once its last row has been read, prompts in order of first appearance and each one's
    responses in input order, so the result never depends on the batch size; rows wait only while their prompt is
    incomplete (memory stays flat when each prompt's rows are near each other, as in HelpSteer2).
    """

    def __init__(self, index: GroupIndex) -> None:
        self.index = index
        self.pending: list[pa.Table] = []
        self.next_group = 0

    def add(self, rows: pa.Table, read: int) -> pa.Table | None:
        """Add the responses of the input rows read so far (``read`` in all); the complete prompts, if any."""
        self.pending.append(rows)
        last = self.index.last
        upto = self.next_group
        while upto < len(last) and last[upto] < read:
            upto += 1
        if upto == self.next_group:
            return None
        table = pa.concat_tables(self.pending)
        group = self.index.group[table.column("input_row").to_numpy()]
        done = group < upto
        self.pending = [table.filter(pa.array(~done))] if (~done).any() else []
        out = table.filter(pa.array(done))
        order = np.lexsort((out.column("input_row").to_numpy(), group[done]))
        self.next_group = upto
        return out.take(pa.array(order)).append_column("group", pa.array(np.sort(group[done])))


def source_column(raw: pa.Table, default: str) -> pa.Array | str:
    """The input's ``source`` column as strings (a list of strings, as Nectar's: its first item), or ``default``."""
    if "source" not in raw.column_names:
        return default
    column = combine(raw.column("source"))
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths, starts, flat = list_parts(column)
        has = lengths > 0
        column = (
            flat.take(pa.array(np.where(has, starts, 0), mask=~has)) if len(flat) else pa.nulls(len(column))
        )
    if not (is_string(column.type) or pa.types.is_null(column.type)):
        return default
    return pc.fill_null(column.cast(pa.string()), default)
