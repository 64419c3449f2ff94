"""Message lists on Arrow columns: the prompt's turns, a conversation with its answer, ShareGPT turns.

A message list is ``list<struct<content: string, role: string>>`` (:data:`MESSAGES_TYPE`). The canonical table's
optional ``prompt_messages`` column holds the conversation up to and including the last user turn; a null (or
empty) value there means one user turn, the ``instruction``. Everything here works on whole columns (numpy index
arithmetic and Arrow ``take``), never row by row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MESSAGE_TYPE = pa.struct([("content", pa.string()), ("role", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)
#: ShareGPT turns as LLaMA-Factory reads them (its default tags ``from`` / ``value``).
SHAREGPT_TYPE = pa.struct([("from", pa.string()), ("value", pa.string())])
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}


def _offsets(lengths: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


def _gather(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat positions of the segments ``[starts[i], starts[i] + lengths[i])``, one after the other."""
    total = int(lengths.sum())
    begin = np.cumsum(lengths) - lengths
    return np.repeat(starts - begin, lengths) + np.arange(total, dtype=np.int64)


def _parts(lists: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    array = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, np.cumsum(lengths) - lengths, array.flatten()


def turns(content: pa.Array, role: str) -> pa.StructArray:
    """One message per value of ``content``, all with ``role``."""
    content = content.combine_chunks() if isinstance(content, pa.ChunkedArray) else content
    roles = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(content), dtype=np.int8)), pa.array([role])
    ).cast(pa.string())
    return pa.StructArray.from_arrays([content.cast(pa.string()), roles], fields=list(MESSAGE_TYPE))


def single_turns(content: pa.Array, role: str) -> pa.ListArray:
    """One-message lists ``[{role: content}]``.

    >>> single_turns(pa.array(["hi"]), "user").to_pylist()
    [[{'content': 'hi', 'role': 'user'}]]
    """
    return pa.ListArray.from_arrays(_offsets(np.ones(len(content), dtype=np.int64)), turns(content, role))


def prompt_turns(prompt: pa.Array, prompt_messages: pa.Array | None = None) -> pa.ListArray:
    """The prompt of each pair as a message list: ``prompt_messages`` where it holds turns, else one user turn.

    >>> many = pa.array([[{"content": "be brief", "role": "system"}, {"content": "hi", "role": "user"}], None],
    ...                 MESSAGES_TYPE)
    >>> [len(m) for m in prompt_turns(pa.array(["hi", "yo"]), many).to_pylist()]
    [2, 1]
    """
    single = single_turns(prompt, "user")
    if prompt_messages is None:
        return single
    lengths, starts, flat = _parts(prompt_messages.cast(MESSAGES_TYPE))
    own = lengths > 0
    if own.all():
        return pa.ListArray.from_arrays(_offsets(lengths), flat.take(pa.array(_gather(starts, lengths))))
    n = len(prompt)
    starts = np.where(own, starts, len(flat) + np.arange(n))
    lengths = np.where(own, lengths, 1)
    values = pa.concat_arrays([flat.cast(MESSAGE_TYPE), single.flatten()])
    return pa.ListArray.from_arrays(_offsets(lengths), values.take(pa.array(_gather(starts, lengths))))


def append_turn(lists: pa.ListArray, content: pa.Array, role: str = "assistant") -> pa.ListArray:
    """Each message list with one more message ``{role: content}`` at its end.

    >>> append_turn(single_turns(pa.array(["hi"]), "user"), pa.array(["hello"])).to_pylist()
    [[{'content': 'hi', 'role': 'user'}, {'content': 'hello', 'role': 'assistant'}]]
    """
    lengths, starts, flat = _parts(lists)
    n = len(lengths)
    new_lengths = lengths + 1
    order = np.empty(int(new_lengths.sum()), dtype=np.int64)
    last = np.cumsum(new_lengths) - 1
    inside = np.ones(len(order), dtype=bool)
    inside[last] = False
    order[inside] = _gather(starts, lengths)
    order[last] = len(flat) + np.arange(n)
    values = pa.concat_arrays([flat.cast(MESSAGE_TYPE), turns(content, role)])
    return pa.ListArray.from_arrays(_offsets(new_lengths), values.take(pa.array(order)))


def conversation(prompt: pa.Array, response: pa.Array, prompt_messages: pa.Array | None = None) -> pa.Array:
    """Message lists: the prompt's turns (:func:`prompt_turns`), then ``{assistant: response}``, one per row.

    >>> conversation(pa.array(["hi"]), pa.array(["hello"])).to_pylist()
    [[{'content': 'hi', 'role': 'user'}, {'content': 'hello', 'role': 'assistant'}]]
    """
    if prompt_messages is not None:
        return append_turn(prompt_turns(prompt, prompt_messages), response)
    n = len(prompt)
    order = np.empty(2 * n, dtype=np.int64)
    order[0::2] = np.arange(n)
    order[1::2] = np.arange(n) + n
    content = pa.concat_arrays([prompt.cast(pa.string()), response.cast(pa.string())]).take(pa.array(order))
    role = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(np.array([0, 1], dtype=np.int8), n)), pa.array(["user", "assistant"])
    ).cast(pa.string())
    messages = pa.StructArray.from_arrays([content, role], fields=list(MESSAGE_TYPE))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), messages)


def to_sharegpt(messages: pa.StructArray) -> pa.StructArray:
    """Messages as ShareGPT turns ``{from, value}``: user -> human, assistant -> gpt (:data:`SHAREGPT_ROLES`;
    another role is kept as it is)."""
    role = messages.field("role").cast(pa.string())
    mapped = role
    for ours, theirs in SHAREGPT_ROLES.items():
        mapped = pc.if_else(pc.equal(role, ours), theirs, mapped)
    return pa.StructArray.from_arrays(
        [mapped.cast(pa.string()), messages.field("content").cast(pa.string())], fields=list(SHAREGPT_TYPE)
    )


def from_sharegpt(turns_: pa.StructArray) -> pa.StructArray:
    """ShareGPT turns ``{from, value}`` as messages ``{content, role}`` (the inverse of :func:`to_sharegpt`)."""
    who = turns_.field("from").cast(pa.string())
    role = who
    for ours, theirs in SHAREGPT_ROLES.items():
        role = pc.if_else(pc.equal(who, theirs), ours, role)
    return pa.StructArray.from_arrays(
        [turns_.field("value").cast(pa.string()), role.cast(pa.string())], fields=list(MESSAGE_TYPE)
    )
