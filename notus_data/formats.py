"""Output formats of the binarizer: which columns a pair is written with.

- ``notus``: the flat columns of argilla/ultrafeedback-binarized-preferences (source, instruction,
  chosen_response, rejected_response, chosen_avg_rating, rejected_avg_rating, chosen_model) plus rejected_model,
  chosen_score / rejected_score (the score the pair was ranked by) and prompt_id.
- ``cleaned``: the message-list columns of argilla/ultrafeedback-binarized-preferences-cleaned, hyphenated names
  (source, prompt, chosen, chosen-rating, chosen-model, rejected, rejected-rating, rejected-model) plus prompt_id.
  The ratings are the mean aspect ratings, as in that set.
- ``h4``: the columns of HuggingFaceH4/ultrafeedback_binarized (prompt, prompt_id, chosen, rejected, messages,
  score_chosen, score_rejected); the scores are the ones the pair was ranked by.

A message list is ``list<struct<content: string, role: string>>``: the prompt's turns (one user turn, or the
conversation up to the last user turn where ``prompt_messages`` is given and not null), then the assistant turn.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FORMATS = ("notus", "cleaned", "h4")

MESSAGE_TYPE = pa.struct([("content", pa.string()), ("role", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)

SCHEMAS = {
    "notus": pa.schema(
        [
            ("source", pa.string()),
            ("instruction", pa.string()),
            ("chosen_response", pa.string()),
            ("rejected_response", pa.string()),
            ("chosen_avg_rating", pa.float64()),
            ("rejected_avg_rating", pa.float64()),
            ("chosen_model", pa.string()),
            ("rejected_model", pa.string()),
            ("chosen_score", pa.float64()),
            ("rejected_score", pa.float64()),
            ("prompt_id", pa.string()),
        ]
    ),
    "cleaned": pa.schema(
        [
            ("source", pa.string()),
            ("prompt", pa.string()),
            ("chosen", MESSAGES_TYPE),
            ("chosen-rating", pa.float64()),
            ("chosen-model", pa.string()),
            ("rejected", MESSAGES_TYPE),
            ("rejected-rating", pa.float64()),
            ("rejected-model", pa.string()),
            ("prompt_id", pa.string()),
        ]
    ),
    "h4": pa.schema(
        [
            ("prompt", pa.string()),
            ("prompt_id", pa.string()),
            ("chosen", MESSAGES_TYPE),
            ("rejected", MESSAGES_TYPE),
            ("messages", MESSAGES_TYPE),
            ("score_chosen", pa.float64()),
            ("score_rejected", pa.float64()),
        ]
    ),
}


def conversation(prompt: pa.Array, response: pa.Array, prompt_messages: pa.Array | None = None) -> pa.Array:
    """Message lists [{user: prompt}, {assistant: response}], one per row, built without a Python loop.

    Where ``prompt_messages`` (a message list per row) is given and not null, the row's prompt turns are those
    messages instead of one user turn.

    >>> conversation(pa.array(["hi"]), pa.array(["hello"])).to_pylist()
    [[{'content': 'hi', 'role': 'user'}, {'content': 'hello', 'role': 'assistant'}]]
    """
    if prompt_messages is not None and prompt_messages.null_count < len(prompt_messages):
        return _with_turns(prompt, response, prompt_messages)
    n = len(prompt)
    order = np.empty(2 * n, dtype=np.int64)
    order[0::2] = np.arange(n)
    order[1::2] = np.arange(n) + n
    content = pa.concat_arrays([prompt.cast(pa.string()), response.cast(pa.string())]).take(pa.array(order))
    role = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(np.array([0, 1], dtype=np.int8), n)), pa.array(["user", "assistant"])
    ).cast(pa.string())
    turns = pa.StructArray.from_arrays([content, role], fields=list(MESSAGE_TYPE))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), turns)


def _with_turns(prompt: pa.Array, response: pa.Array, prompt_messages: pa.Array) -> pa.Array:
    """:func:`conversation` where some rows have their own prompt turns."""
    n = len(prompt)
    if isinstance(prompt_messages, pa.ChunkedArray):
        prompt_messages = prompt_messages.combine_chunks()
    single = conversation(prompt, pa.nulls(n, pa.string())).flatten()  # user turns at even positions
    given = pc.is_valid(prompt_messages).to_numpy(zero_copy_only=False)
    lengths = np.where(
        given, pc.fill_null(pc.list_value_length(prompt_messages), 0).to_numpy(zero_copy_only=False), 1
    )
    lengths = lengths.astype(np.int64)
    own_starts = np.asarray(prompt_messages.offsets)[:-1].astype(np.int64)
    own = prompt_messages.values.cast(MESSAGE_TYPE)
    assistant = pa.StructArray.from_arrays(
        [response.cast(pa.string()), pa.array(["assistant"] * n, pa.string())], fields=list(MESSAGE_TYPE)
    )
    out_lengths = lengths + 1
    offsets = np.concatenate([[0], np.cumsum(out_lengths)]).astype(np.int32)
    row = np.repeat(np.arange(n), out_lengths)
    pos = np.arange(offsets[-1]) - offsets[:-1][row]
    last = pos == lengths[row]
    # index into concat([own, single, assistant])
    take = np.where(
        last,
        len(own) + len(single) + row,
        np.where(given[row], own_starts[row] + pos, len(own) + 2 * row),
    )
    values = pa.concat_arrays([own, single, assistant]).take(pa.array(take))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def build(
    fmt: str,
    *,
    source: pa.Array,
    prompt: pa.Array,
    prompt_id: pa.Array,
    chosen: pa.Array,
    rejected: pa.Array,
    chosen_model: pa.Array,
    rejected_model: pa.Array,
    chosen_avg_rating: pa.Array,
    rejected_avg_rating: pa.Array,
    chosen_score: pa.Array,
    rejected_score: pa.Array,
    prompt_messages: pa.Array | None = None,
) -> pa.Table:
    """Assemble the pairs of one batch in output format ``fmt`` (every argument has one value per pair).

    ``prompt_messages``: each pair's prompt turns (a message list ending with the last user turn); None or a
    null value: one user turn holding ``prompt``."""
    pm = prompt_messages
    if fmt == "notus":
        columns = [
            source,
            prompt,
            chosen,
            rejected,
            chosen_avg_rating,
            rejected_avg_rating,
            chosen_model,
            rejected_model,
            chosen_score,
            rejected_score,
            prompt_id,
        ]
    elif fmt == "cleaned":
        columns = [
            source,
            prompt,
            conversation(prompt, chosen, pm),
            chosen_avg_rating,
            chosen_model,
            conversation(prompt, rejected, pm),
            rejected_avg_rating,
            rejected_model,
            prompt_id,
        ]
    else:
        chosen_messages = conversation(prompt, chosen, pm)
        columns = [
            prompt,
            prompt_id,
            chosen_messages,
            conversation(prompt, rejected, pm),
            chosen_messages,
            chosen_score,
            rejected_score,
        ]
    return pa.Table.from_arrays(columns, schema=SCHEMAS[fmt])
