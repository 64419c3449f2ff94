"""Output formats of the binarizer: which columns a pair is written with.

- ``notus``: the flat columns of argilla/ultrafeedback-binarized-preferences (source, instruction,
  chosen_response, rejected_response, chosen_avg_rating, rejected_avg_rating, chosen_model) plus rejected_model,
  chosen_score / rejected_score (the score the pair was ranked by) and prompt_id.
- ``cleaned``: the message-list columns of argilla/ultrafeedback-binarized-preferences-cleaned, hyphenated names
  (source, prompt, chosen, chosen-rating, chosen-model, rejected, rejected-rating, rejected-model) plus prompt_id.
  The ratings are the mean aspect ratings, as in that set.
- ``h4``: the columns of HuggingFaceH4/ultrafeedback_binarized (prompt, prompt_id, chosen, rejected, messages,
  score_chosen, score_rejected); the scores are the ones the pair was ranked by.
- ``trl``: TRL's explicit-prompt conversational preference format: ``prompt`` (the messages up to the last user
  turn), ``chosen`` and ``rejected`` (one assistant message each), plus source, prompt_id, score_chosen,
  score_rejected. ``DPOTrainer`` reads it as it is.
- ``kto``: TRL's unpaired preference format: ``prompt`` (messages), ``completion`` (one assistant message),
  ``label`` (True for a chosen, False for a rejected response), plus source, prompt_id and score. Each pair gives
  its chosen row, then its rejected row, as ``trl.data_utils.unpair_preference_dataset`` does; a (prompt,
  completion) that comes again among the pairs of the same prompt is written once: the first copy in that order
  is kept (so a completion chosen in one pair and rejected in a later one keeps ``label`` True).
- ``openrlhf``: OpenRLHF's reward / DPO data: ``prompt`` (messages), ``chosen``, ``rejected`` (one assistant
  message each; read with ``--apply_chat_template``) and ``margin`` = chosen score - rejected score, plus source
  and prompt_id.
- ``llama-factory``: LLaMA-Factory's ShareGPT ranking format: ``conversations`` (the prompt's turns as
  ``{from, value}``, human / gpt / system), ``chosen`` and ``rejected`` (one ``{from: gpt, value}`` turn each),
  plus source, prompt_id, score_chosen, score_rejected; :func:`dataset_info` is the ``dataset_info.json`` entry
  it needs (``"ranking": true``, the columns map).

The prompt of a pair is one user turn (the instruction) unless ``prompt_messages`` gives its turns (a multi-turn
prompt): then ``cleaned`` / ``h4`` message lists are those turns plus the assistant turn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.formats.messages import (
    MESSAGES_TYPE,
    SHAREGPT_TYPE,
    conversation,
    prompt_turns,
    single_turns,
    to_sharegpt,
)

FORMATS = ("notus", "cleaned", "h4", "trl", "kto", "openrlhf", "llama-factory")

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
    "trl": pa.schema(
        [
            ("prompt", MESSAGES_TYPE),
            ("chosen", MESSAGES_TYPE),
            ("rejected", MESSAGES_TYPE),
            ("source", pa.string()),
            ("prompt_id", pa.string()),
            ("score_chosen", pa.float64()),
            ("score_rejected", pa.float64()),
        ]
    ),
    "kto": pa.schema(
        [
            ("prompt", MESSAGES_TYPE),
            ("completion", MESSAGES_TYPE),
            ("label", pa.bool_()),
            ("source", pa.string()),
            ("prompt_id", pa.string()),
            ("score", pa.float64()),
        ]
    ),
    "openrlhf": pa.schema(
        [
            ("prompt", MESSAGES_TYPE),
            ("chosen", MESSAGES_TYPE),
            ("rejected", MESSAGES_TYPE),
            ("margin", pa.float64()),
            ("source", pa.string()),
            ("prompt_id", pa.string()),
        ]
    ),
    "llama-factory": pa.schema(
        [
            ("conversations", pa.list_(SHAREGPT_TYPE)),
            ("chosen", SHAREGPT_TYPE),
            ("rejected", SHAREGPT_TYPE),
            ("source", pa.string()),
            ("prompt_id", pa.string()),
            ("score_chosen", pa.float64()),
            ("score_rejected", pa.float64()),
        ]
    ),
}


def kto_order(group: Any, chosen: pa.Array, rejected: pa.Array) -> np.ndarray:
    """The ``kto`` rows of ``n`` pairs as positions in ``[chosen_0, rejected_0, chosen_1, ...]`` (even: a chosen,
    odd: a rejected), each (group, completion text) once, the first copy kept, in that order.

    ``group`` names the prompt of each pair (the pairs of one prompt share it).

    >>> kto_order(np.array([0, 0]), pa.array(["a", "a"]), pa.array(["b", "c"])).tolist()
    [0, 1, 3]
    """
    n = len(chosen)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.repeat(np.asarray(group, dtype=np.int64), 2)
    text = pa.concat_arrays([chosen.cast(pa.string()), rejected.cast(pa.string())]).take(
        pa.array(np.stack([np.arange(n), np.arange(n) + n], axis=1).ravel())
    )
    keys = pa.table({"group": groups, "text": text, "at": np.arange(2 * n, dtype=np.int64)})
    first = keys.group_by(["group", "text"], use_threads=False).aggregate([("at", "min")])
    return np.sort(first.column("at_min").to_numpy())


def dataset_info(file_name: str, name: str) -> dict[str, Any]:
    """LLaMA-Factory's ``dataset_info.json`` entry for a ``llama-factory`` file (ShareGPT ranking).

    >>> dataset_info("pairs.parquet", "pairs")["pairs"]["ranking"]
    True
    """
    return {
        name: {
            "file_name": file_name,
            "formatting": "sharegpt",
            "ranking": True,
            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"},
        }
    }


def _one_turn(response: pa.Array) -> pa.ListArray:
    return single_turns(response, "assistant")


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
    group: Any = None,
) -> pa.Table:
    """Assemble the pairs of one batch in output format ``fmt`` (every argument has one value per pair).

    ``prompt`` is the last user turn's text; ``prompt_messages`` (optional, :data:`MESSAGES_TYPE`) the prompt's
    turns, null for one user turn. ``group`` (``kto`` only) names each pair's prompt for :func:`kto_order`
    (default: pairs with the same ``prompt_id`` share a prompt).
    """
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
            conversation(prompt, chosen, prompt_messages),
            chosen_avg_rating,
            chosen_model,
            conversation(prompt, rejected, prompt_messages),
            rejected_avg_rating,
            rejected_model,
            prompt_id,
        ]
    elif fmt == "h4":
        chosen_messages = conversation(prompt, chosen, prompt_messages)
        columns = [
            prompt,
            prompt_id,
            chosen_messages,
            conversation(prompt, rejected, prompt_messages),
            chosen_messages,
            chosen_score,
            rejected_score,
        ]
    elif fmt in ("trl", "openrlhf"):
        head = [prompt_turns(prompt, prompt_messages), _one_turn(chosen), _one_turn(rejected)]
        if fmt == "trl":
            columns = [*head, source, prompt_id, chosen_score, rejected_score]
        else:
            margin = pc.subtract(chosen_score.cast(pa.float64()), rejected_score.cast(pa.float64()))
            columns = [*head, margin, source, prompt_id]
    elif fmt == "kto":
        if group is None:
            group = pc.dictionary_encode(prompt_id.cast(pa.string())).indices.to_numpy(zero_copy_only=False)
        at = kto_order(group, chosen, rejected)
        pair = pa.array(at // 2)

        def both(a: pa.Array, b: pa.Array) -> pa.Array:
            return pa.concat_arrays([a, b]).take(pa.array(np.where(at % 2 == 0, at // 2, at // 2 + len(a))))

        columns = [
            prompt_turns(prompt, prompt_messages).take(pair),
            _one_turn(both(chosen.cast(pa.string()), rejected.cast(pa.string()))),
            pa.array(at % 2 == 0),
            source.take(pair),
            prompt_id.take(pair),
            both(chosen_score.cast(pa.float64()), rejected_score.cast(pa.float64())),
        ]
    else:
        lengths = prompt_turns(prompt, prompt_messages)
        conversations = pa.ListArray.from_arrays(lengths.offsets, to_sharegpt(lengths.flatten()))
        columns = [
            conversations,
            to_sharegpt(_one_turn(chosen).flatten()),
            to_sharegpt(_one_turn(rejected).flatten()),
            source,
            prompt_id,
            chosen_score,
            rejected_score,
        ]
    return pa.Table.from_arrays(columns, schema=SCHEMAS[fmt])
