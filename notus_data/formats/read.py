"""The pair formats the trainer reads, and their conversion to TRL's conversational format on Arrow columns.

Formats (detected from the columns, :func:`detect_format`): ``h4`` / ``cleaned`` / ``conversational``
(``chosen`` / ``rejected`` message lists sharing every turn but the last), ``notus`` (flat ``instruction``,
``chosen_response``, ``rejected_response``), ``standard`` (flat ``prompt``, ``chosen``, ``rejected``) and ``trl``
(``prompt`` a message list, ``chosen`` / ``rejected`` the assistant turns; ``openrlhf`` reads as it) and
``llama-factory`` (ShareGPT ``conversations``, ``chosen`` / ``rejected`` one ``{from, value}`` turn each). :func:`to_conversational` gives
``prompt``, ``chosen``, ``rejected`` as message lists, with a mask of the rows that cannot become a pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError
from notus_data.formats.messages import from_sharegpt

MESSAGE = pa.struct([("content", pa.string()), ("role", pa.string())])
CONVERSATION = pa.list_(MESSAGE)
#: Why a row cannot become a pair (the trainer counts each, with example rows).
REASONS = {
    "empty_conversation": "chosen or rejected is null or has no turns",
    "last_turn_not_assistant": "the last turn of chosen or rejected is not an assistant turn",
    "no_prompt": "no prompt: empty prompt text, or chosen/rejected hold only the response",
    "prompt_mismatch": "chosen and rejected do not share the same prompt turns",
    "null_text": "a prompt or response text is null",
    "prompt_too_long": "the rendered prompt is longer than max_prompt_length tokens (with long_prompts=truncate: "
    "even with its last user turn emptied)",
    "beyond_max_train_rows": "not used: beyond max_train_rows",
    "prompt_fills_max_length": "dropped by TRL: the tokenized prompt alone fills max_length",
}

#: Columns each format needs; only these are read.
FORMAT_COLUMNS = {
    "notus": ("instruction", "chosen_response", "rejected_response"),
    "standard": ("prompt", "chosen", "rejected"),
    "trl": ("prompt", "chosen", "rejected"),
    "h4": ("chosen", "rejected"),
    "cleaned": ("chosen", "rejected"),
    "conversational": ("chosen", "rejected"),
    "llama-factory": ("conversations", "chosen", "rejected"),
}


def detect_format(schema: pa.Schema, where: str = "dataset") -> str:
    """Name the pair format of a table from its columns (see the module docstring).

    >>> detect_format(pa.schema([("instruction", pa.string()), ("chosen_response", pa.string()),
    ...                          ("rejected_response", pa.string())]))
    'notus'
    >>> detect_format(pa.schema([("prompt", pa.string()), ("chosen", CONVERSATION), ("rejected", CONVERSATION),
    ...                          ("messages", CONVERSATION)]))
    'h4'
    """
    names = set(schema.names)

    def is_list(name: str) -> bool:
        return name in names and (
            pa.types.is_list(schema.field(name).type) or pa.types.is_large_list(schema.field(name).type)
        )

    def is_text(name: str) -> bool:
        return name in names and (
            pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type)
        )

    if {"instruction", "chosen_response", "rejected_response"} <= names:
        return "notus"
    if is_list("conversations") and all(
        name in names and pa.types.is_struct(schema.field(name).type) for name in ("chosen", "rejected")
    ):
        return "llama-factory"
    if is_list("chosen") and is_list("rejected"):
        if is_list("prompt"):
            return "trl"
        if "chosen-rating" in names:
            return "cleaned"
        if "messages" in names or "score_chosen" in names:
            return "h4"
        return "conversational"
    if is_text("prompt") and is_text("chosen") and is_text("rejected"):
        return "standard"
    raise SchemaError(
        f"{where}: cannot tell the pair format from the columns {sorted(names)}. Expected one of: "
        "h4/cleaned (chosen and rejected as message lists list<struct<content, role>>), "
        "notus (instruction, chosen_response, rejected_response), "
        "standard (prompt, chosen, rejected as strings), "
        "trl (prompt, chosen, rejected as message lists), "
        "llama-factory (conversations, chosen, rejected as ShareGPT turns). Publish the pairs with notus-data or rename the columns."
    )


def _messages(flat: pa.Array, column: str) -> pa.StructArray:
    """Flattened turns as ``struct<content: string, role: string>`` (other fields dropped)."""
    if not pa.types.is_struct(flat.type) or not {"content", "role"} <= {f.name for f in flat.type}:
        raise SchemaError(
            f"column {column!r}: expected a list of messages with 'content' and 'role', got {flat.type}"
        )
    content = flat.field("content").cast(pa.string())
    role = flat.field("role").cast(pa.string())
    return pa.StructArray.from_arrays([content, role], names=["content", "role"])


def _conversation(
    column: pa.ChunkedArray | pa.Array, name: str, sharegpt: bool = False
) -> tuple[np.ndarray, pa.StructArray]:
    """(turns per row, flattened turns) of a message-list column; null rows have 0 turns."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(array)
    if sharegpt:
        if not pa.types.is_struct(flat.type) or not {"from", "value"} <= {f.name for f in flat.type}:
            raise SchemaError(
                f"column {name!r}: expected a list of ShareGPT turns with 'from' and 'value', got {flat.type}"
            )
        return lengths, from_sharegpt(flat)
    return lengths, _messages(flat, name)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def _single_turns(text: pa.Array, role: str) -> pa.ListArray:
    """One-turn message lists from a string column."""
    n = len(text)
    roles = pa.repeat(pa.scalar(role, pa.string()), n)
    turns = pa.StructArray.from_arrays([text.cast(pa.string()), roles], names=["content", "role"])
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), turns)


def _null_mask(array: pa.Array) -> np.ndarray:
    return array.is_null().to_numpy(zero_copy_only=False)


def _texts_equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    eq = pc.equal(a, b).fill_null(False).to_numpy(zero_copy_only=False)
    both_null = _null_mask(a) & _null_mask(b)
    return eq | both_null


def to_conversational(batch: pa.Table, fmt: str) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Convert one batch to ``prompt``/``chosen``/``rejected`` message lists.

    Returns the kept rows (with their position in the batch as ``row_index``) and, per drop reason, the positions
    of the dropped rows. A row gets the first reason that applies (see :data:`REASONS`).

    >>> t = pa.table({"instruction": ["2+2?", None], "chosen_response": ["4", "a"], "rejected_response": ["5", "b"]})
    >>> pairs, dropped = to_conversational(t, "notus")
    >>> pairs.column("chosen").to_pylist(), dropped["null_text"].tolist()
    ([[{'content': '4', 'role': 'assistant'}]], [1])
    """
    n = batch.num_rows
    reason = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reason[(reason == "") & mask] = why

    if fmt in ("notus", "standard"):
        p_col, c_col, r_col = FORMAT_COLUMNS[fmt]
        prompt_text = batch.column(p_col).combine_chunks().cast(pa.string())
        chosen_text = batch.column(c_col).combine_chunks().cast(pa.string())
        rejected_text = batch.column(r_col).combine_chunks().cast(pa.string())
        flag(_null_mask(prompt_text) | _null_mask(chosen_text) | _null_mask(rejected_text), "null_text")
        empty = pc.equal(pc.utf8_length(prompt_text), 0).fill_null(False).to_numpy(zero_copy_only=False)
        flag(empty, "no_prompt")
        prompt = _single_turns(prompt_text, "user")
        chosen = _single_turns(chosen_text, "assistant")
        rejected = _single_turns(rejected_text, "assistant")
    elif fmt == "trl":
        parts = {}
        for name in ("prompt", "chosen", "rejected"):
            lengths, flat = _conversation(batch.column(name), name)
            parts[name] = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), flat)
            flag(lengths == 0, "no_prompt" if name == "prompt" else "empty_conversation")
            turn_row = np.repeat(np.arange(n), lengths)
            flag(np.isin(np.arange(n), turn_row[_null_mask(flat.field("content"))]), "null_text")
        prompt, chosen, rejected = parts["prompt"], parts["chosen"], parts["rejected"]
    elif fmt == "llama-factory":
        lengths, flat = _conversation(batch.column("conversations"), "conversations", sharegpt=True)
        prompt = pa.ListArray.from_arrays(pa.array(_offsets(lengths)), flat)
        flag(lengths == 0, "no_prompt")
        turn_row = np.repeat(np.arange(n), lengths)
        flag(np.isin(np.arange(n), turn_row[_null_mask(flat.field("content"))]), "null_text")
        answers = []
        for name in ("chosen", "rejected"):
            column = batch.column(name).combine_chunks()
            flag(_null_mask(column), "empty_conversation")
            turn = from_sharegpt(column)
            flag(~pc.equal(turn.field("role"), "assistant").fill_null(False).to_numpy(zero_copy_only=False),
                 "last_turn_not_assistant")  # fmt: skip
            flag(_null_mask(turn.field("content")), "null_text")
            answers.append(pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), turn))
        chosen, rejected = answers
    elif fmt in ("h4", "cleaned", "conversational"):
        prompt, chosen, rejected = _split_shared_prompt(batch, flag)
    else:
        raise SchemaError(f"unknown pair format {fmt!r}")

    keep = reason == ""
    keep_arrow = pa.array(keep)
    pairs = pa.table(
        {
            "prompt": prompt.filter(keep_arrow).cast(CONVERSATION),
            "chosen": chosen.filter(keep_arrow).cast(CONVERSATION),
            "rejected": rejected.filter(keep_arrow).cast(CONVERSATION),
            "row_index": pa.array(np.flatnonzero(keep).astype(np.int64)),
        }
    )
    dropped = {why: np.flatnonzero(reason == why) for why in REASONS if (reason == why).any()}
    return pairs, dropped


def _split_shared_prompt(batch: pa.Table, flag: Any) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Message-list pairs: prompt = the turns before the last one, chosen/rejected = the last turn."""
    n = batch.num_rows
    rows = np.arange(n)
    sides = {}
    for name in ("chosen", "rejected"):
        lengths, flat = _conversation(batch.column(name), name)
        offsets = _offsets(lengths)
        has_turns = lengths > 0
        last = np.where(has_turns, offsets[1:] - 1, 0)
        is_last = np.zeros(len(flat), dtype=bool)
        is_last[last[has_turns]] = True
        roles = flat.field("role")
        last_role_ok = np.zeros(n, dtype=bool)
        if len(flat):
            last_roles = roles.take(pa.array(last[has_turns]))
            last_role_ok[has_turns] = (
                pc.equal(last_roles, "assistant").fill_null(False).to_numpy(zero_copy_only=False)
            )
        flag(~has_turns, "empty_conversation")
        sides[name] = {
            "lengths": lengths,
            "flat": flat,
            "prompt_lengths": np.maximum(lengths - 1, 0),
            "prompt_flat": flat.filter(pa.array(~is_last)),
            "last": last,
            "has_turns": has_turns,
            "last_role_ok": last_role_ok,
        }
    c, r = sides["chosen"], sides["rejected"]
    flag(~(c["last_role_ok"] & r["last_role_ok"]), "last_turn_not_assistant")
    flag(c["prompt_lengths"] == 0, "no_prompt")

    # Shared prompt: same number of prompt turns and every turn equal (role and content).
    same_len = c["prompt_lengths"] == r["prompt_lengths"]
    mismatch = ~same_len
    if same_len.any():
        c_mask = np.repeat(same_len, c["prompt_lengths"])
        r_mask = np.repeat(same_len, r["prompt_lengths"])
        c_turns = c["prompt_flat"].filter(pa.array(c_mask))
        r_turns = r["prompt_flat"].filter(pa.array(r_mask))
        equal = _texts_equal(c_turns.field("content"), r_turns.field("content")) & _texts_equal(
            c_turns.field("role"), r_turns.field("role")
        )
        turn_row = np.repeat(rows[same_len], c["prompt_lengths"][same_len])
        mismatch[np.unique(turn_row[~equal])] = True
    flag(mismatch, "prompt_mismatch")

    # Null texts anywhere in the kept turns.
    for side in (c, r):
        turn_row = np.repeat(rows, side["lengths"])
        null_rows = np.unique(turn_row[_null_mask(side["flat"].field("content"))])
        null = np.zeros(n, dtype=bool)
        null[null_rows] = True
        flag(null, "null_text")

    prompt = pa.ListArray.from_arrays(pa.array(_offsets(c["prompt_lengths"])), c["prompt_flat"])
    answers = []
    for side in (c, r):
        # Rows without turns point at turn 0 (or an empty placeholder); they are dropped by the caller.
        flat = side["flat"]
        if len(flat):
            last_turns = flat.take(pa.array(side["last"]))
            answers.append(pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), last_turns))
        else:
            empty = pa.StructArray.from_arrays(
                [pa.array([], pa.string()), pa.array([], pa.string())], names=["content", "role"]
            )
            answers.append(pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), empty))
    return prompt, answers[0], answers[1]
