"""Prompts longer than ``max_prompt_length`` tokens: truncated (the default) or dropped, counted either way.

The Notus and Zephyr runs used TRL's prompt truncation, which kept the END of a prompt that did not fit (the
question usually comes last). TRL 1.x no longer truncates prompts on its own, so the stage does it before the
trainer sees the data, with one rule:

- ``long_prompts="truncate"``: the LAST user turn loses tokens from its START until the rendered prompt (chat
  template, earlier turns and generation prompt included) fits ``max_prompt_length`` tokens. The template and the
  earlier turns are kept whole; a prompt that cannot fit even with an empty last turn is dropped
  (``prompt_too_long``). Truncated rows are counted as ``prompt_truncated`` per split, with example rows.
- ``long_prompts="drop"``: every prompt over the limit is dropped and counted (``prompt_too_long``).

Only the rows over the limit are touched; lengths are measured on batches of rendered prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LONG_PROMPTS = ("truncate", "drop")


def prompt_token_lengths(ds: Any, tokenizer: Any, *, batch_size: int = 1000) -> np.ndarray:
    """Tokens in each rendered prompt (chat template with the generation prompt), as the trainer counts them."""
    lengths = []
    for batch in ds.select_columns(["prompt"]).iter(batch_size=batch_size):
        lengths.extend(_lengths(batch["prompt"], tokenizer))
    return np.asarray(lengths, dtype=np.int64)


def _lengths(prompts: list[list[dict[str, str]]], tokenizer: Any) -> list[int]:
    texts = tokenizer.apply_chat_template(prompts, tokenize=False, add_generation_prompt=True)
    return [len(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def _last_user(prompt: list[dict[str, str]]) -> int | None:
    for i in range(len(prompt) - 1, -1, -1):
        if prompt[i].get("role") == "user":
            return i
    return None


def truncate_prompt(prompt: list[dict[str, str]], tokenizer: Any, max_prompt_length: int) -> list | None:
    """``prompt`` with its last user turn cut from the start so that it renders to at most ``max_prompt_length``
    tokens, or None when even an empty last turn does not fit."""
    turn = _last_user(prompt)
    if turn is None:
        return None

    def with_content(text: str) -> list[dict[str, str]]:
        out = [dict(m) for m in prompt]
        out[turn]["content"] = text
        return out

    overhead = _lengths([with_content("")], tokenizer)[0]
    ids = tokenizer(prompt[turn]["content"], add_special_tokens=False)["input_ids"]
    keep = min(len(ids), max_prompt_length - overhead)
    # Decoding a token tail and rendering it again can merge or split tokens at the seam: shrink until it fits.
    while keep > 0:
        candidate = with_content(tokenizer.decode(ids[len(ids) - keep :], skip_special_tokens=True).lstrip())
        excess = _lengths([candidate], tokenizer)[0] - max_prompt_length
        if excess <= 0:
            return candidate
        keep -= max(excess, 1)
    return None


def fit_prompts(
    ds: Any, tokenizer: Any, max_prompt_length: int, long_prompts: str, split: str, summary: Any
) -> Any:
    """Apply the ``long_prompts`` rule to the rows of ``ds`` whose prompt is over ``max_prompt_length`` tokens,
    counting truncated and dropped rows in ``summary`` (a :class:`~notus_data.train.data.DataSummary`)."""
    if ds.num_rows == 0:
        return ds
    too_long = np.flatnonzero(prompt_token_lengths(ds, tokenizer) > max_prompt_length)
    if len(too_long) == 0:
        return ds
    rows = np.asarray(ds["row_index"])
    drop = too_long
    if long_prompts == "truncate":
        prompts = list(ds["prompt"])
        fitted = {int(i): truncate_prompt(prompts[i], tokenizer, max_prompt_length) for i in too_long}
        cut = np.array([i for i, p in fitted.items() if p is not None], dtype=np.int64)
        drop = np.array([i for i, p in fitted.items() if p is None], dtype=np.int64)
        if len(cut):
            summary.truncate(split, rows[cut])
            for i in cut:
                prompts[i] = fitted[int(i)]
            columns = ds.column_names
            features = ds.features
            ds = ds.remove_columns("prompt").add_column("prompt", prompts, feature=features["prompt"])
            ds = ds.select_columns(columns)
    if len(drop):
        summary.drop(split, "prompt_too_long", len(drop), rows[drop])
        ds = ds.select(np.setdiff1d(np.arange(ds.num_rows), drop))
    return ds
