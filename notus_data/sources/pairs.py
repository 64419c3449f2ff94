"""The ``pairs`` source: already-binarized preference sets as input, in any pairs format.

Formats read (detected from the columns, :func:`notus_data.formats.read.detect_format`): ``notus`` (Argilla's
flat ultrafeedback-binarized-preferences), ``cleaned`` (Argilla's -cleaned), ``h4``, ``trl`` (and ``openrlhf``,
the same columns), ``standard`` (TRL's flat prompt / chosen / rejected strings), ``llama-factory`` (ShareGPT
ranking) and any ``chosen`` / ``rejected`` message lists sharing their prompt turns. Each batch becomes a
:data:`PAIRS_SCHEMA` table, one row per input row: the prompt (its turns, and the text of its last user turn), the
chosen and rejected texts (the last assistant turn), models, ratings and scores where the set has them, and
``problem``: why the row is no pair (null for a pair; the reasons of
:data:`notus_data.formats.read.REASONS`), so a row that is no pair is counted, never lost. The reader that
opens a pairs set as batches is :func:`notus_data.io.pairs.load_pairs`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import SchemaError
from notus_data.formats.messages import MESSAGES_TYPE
from notus_data.formats.read import FORMAT_COLUMNS, to_conversational
from notus_data.schema import list_parts, sha256_hex

PAIRS_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("source", pa.string()),
        ("prompt", pa.string()),  # the last user turn's text
        ("prompt_messages", MESSAGES_TYPE),  # every prompt turn (one user turn for a one-turn prompt)
        ("prompt_id", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
        ("chosen_avg_rating", pa.float64()),
        ("rejected_avg_rating", pa.float64()),
        ("chosen_score", pa.float64()),
        ("rejected_score", pa.float64()),
        ("problem", pa.string()),
    ]
)
#: Columns that hold the chosen / rejected scores, by format, tried in order.
SCORE_COLUMNS = (
    ("chosen_score", "rejected_score"),
    ("score_chosen", "score_rejected"),
    ("chosen_avg_rating", "rejected_avg_rating"),
    ("chosen-rating", "rejected-rating"),
    ("chosen_rating", "rejected_rating"),
)
RATING_COLUMNS = (
    ("chosen_avg_rating", "rejected_avg_rating"),
    ("chosen-rating", "rejected-rating"),
    ("chosen_rating", "rejected_rating"),
)
MODEL_COLUMNS = (("chosen_model", "rejected_model"), ("chosen-model", "rejected-model"))


def _pair_of(names: list[str], candidates: tuple) -> tuple[str, str] | None:
    return next(((c, r) for c, r in candidates if c in names and r in names), None)


def _texts(messages: pa.Array, role: str | None = None) -> pa.Array:
    """The content of the last turn of each message list (of the last ``role`` turn where given)."""
    lengths, starts, flat = list_parts(messages)
    if role is None:
        return pc.struct_field(flat, "content").take(pa.array(starts + lengths - 1))
    n = len(lengths)
    rows = np.repeat(np.arange(n), lengths)
    is_role = pc.equal(pc.struct_field(flat, "role"), role).fill_null(False).to_numpy(zero_copy_only=False)
    last = np.full(n, -1, dtype=np.int64)
    positions = np.flatnonzero(is_role)
    last[rows[positions]] = positions  # positions ascend, so the last one of each row stays
    content = pc.struct_field(flat, "content")
    if len(content) == 0:
        return pa.nulls(n, pa.string())
    return pa.array(content.take(pa.array(np.maximum(last, 0))), mask=last < 0)


def _numbers(batch: pa.Table, name: str | None) -> pa.Array:
    if name is None:
        return pa.nulls(batch.num_rows, pa.float64())
    try:
        return batch.column(name).combine_chunks().cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"column {name!r}: scores must be numbers ({str(exc).strip().splitlines()[0][:300]})"
        ) from None


def _strings(batch: pa.Table, name: str | None) -> pa.Array:
    if name is None or name not in batch.column_names:
        return pa.nulls(batch.num_rows, pa.string())
    return batch.column(name).combine_chunks().cast(pa.string())


def read_pairs(batch: pa.Table, fmt: str, start: int = 0) -> pa.Table:
    """One batch of a pairs set in format ``fmt`` as :data:`PAIRS_SCHEMA` rows (see the module docstring).

    >>> t = pa.table({"instruction": ["2+2?", None], "chosen_response": ["4", "a"], "rejected_response": ["5", "b"]})
    >>> rows = read_pairs(t, "notus").to_pylist()
    >>> rows[0]["chosen"], rows[0]["prompt_messages"], rows[1]["problem"]
    ('4', [{'content': '2+2?', 'role': 'user'}], 'null_text')
    """
    n = batch.num_rows
    names = batch.column_names
    pairs, dropped = to_conversational(batch.select(list(FORMAT_COLUMNS[fmt])), fmt)
    problem = np.full(n, None, dtype=object)
    for why, rows in dropped.items():
        problem[rows] = why
    kept = pairs.column("row_index").to_numpy()
    take = np.full(n, -1, dtype=np.int64)
    take[kept] = np.arange(len(kept))
    index = pa.array(np.maximum(take, 0), mask=take < 0)

    def spread(values: pa.Array, kind: pa.DataType) -> pa.Array:
        return values.take(index) if len(values) else pa.nulls(n, kind)

    messages = spread(pairs.column("prompt").combine_chunks().cast(MESSAGES_TYPE), MESSAGES_TYPE)
    prompt = _texts(messages, "user")
    if "prompt_id" in names:
        prompt_id = pc.coalesce(_strings(batch, "prompt_id"), sha256_hex(prompt))
    else:
        prompt_id = sha256_hex(prompt)
    scores = _pair_of(names, SCORE_COLUMNS) or (None, None)
    ratings = _pair_of(names, RATING_COLUMNS) or scores
    models = _pair_of(names, MODEL_COLUMNS) or (None, None)
    columns = {
        "row_index": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "source": _strings(batch, "source"),
        "prompt": prompt,
        "prompt_messages": messages,
        "prompt_id": prompt_id,
        "chosen": spread(_texts(pairs.column("chosen").combine_chunks()), pa.string()),
        "rejected": spread(_texts(pairs.column("rejected").combine_chunks()), pa.string()),
        "chosen_model": _strings(batch, models[0]),
        "rejected_model": _strings(batch, models[1]),
        "chosen_avg_rating": _numbers(batch, ratings[0]),
        "rejected_avg_rating": _numbers(batch, ratings[1]),
        "chosen_score": _numbers(batch, scores[0]),
        "rejected_score": _numbers(batch, scores[1]),
        "problem": pa.array(problem, pa.string()),
    }
    return pa.table(columns, schema=PAIRS_SCHEMA)
