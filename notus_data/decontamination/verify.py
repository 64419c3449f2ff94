"""Verification of near copies before a row is removed: the meaning veto and the words kept.

A candidate that passes a similarity threshold (n-gram coverage, near duplicate, paraphrase) is checked
against its question once more, on the stretch of the prompt it was found in:

* **meaning veto** (:func:`replaced_key_word`): the question's key token (a number, a year, a content word that
  at most 0.5% of the questions hold) was replaced by another word: its two neighbours in the question stand in
  the stretch with one other token between them, and nowhere with the key token itself between them. "How many
  moons does Mars have?" is not "How many planets ..."; a question cut short or with words dropped is not
  vetoed. Only questions of at most :data:`VETO_MAX_TOKENS` tokens: one word changed leaves a long text a copy.
* **words kept** (:func:`words_kept`): the share of the question's words the stretch holds in their order, so
  that a short question is not matched by its two rare words alone ("Current date: 3/2/2023" is not "What's the current
  date?").
"""

from __future__ import annotations

import numpy as np

from notus_data.decontamination.align import PAD
from notus_data.decontamination.index import DecontaminationIndex
from notus_data.decontamination.normalize import BOUNDARY_ID, Encoded

VETO_MAX_TOKENS = 48
"""Questions up to this many tokens (sentence markers included) are guarded by the veto and the words kept."""
MIN_WORDS_KEPT = 0.66
_BATCH_CELLS = 4_000_000
"""Least share of a short question's words that a near copy keeps."""


def gather(enc: Encoded, index: DecontaminationIndex, start, length, question):
    """(window tokens (n, W) padded with PAD, question tokens (n, M) padded with PAD, key flags (n, M))."""
    width = int(length.max()) if len(length) else 0
    col = np.arange(width)
    valid = col[None, :] < length[:, None]
    windows = np.where(valid, enc.ids[np.where(valid, start[:, None] + col[None, :], 0)], PAD)
    q_len = index.question_length[question]
    depth = int(q_len.max()) if len(q_len) else 0
    q_col = np.arange(depth)
    q_valid = q_col[None, :] < q_len[:, None]
    pos = np.where(q_valid, index.tokens.offsets[question, None] + q_col[None, :], 0)
    q_tok = np.where(q_valid, index.tokens.ids[pos], PAD)
    key = np.where(q_valid, index.is_key_token[pos], False)
    return windows, q_tok, key


def replaced_key_word(windows: np.ndarray, q_tok: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether each stretch replaced one of its question's key tokens (see the module docstring)."""
    out = np.zeros(len(windows), dtype=bool)
    short = (q_tok != PAD).sum(axis=1) <= VETO_MAX_TOKENS
    if windows.shape[1] < 3:
        return out
    for i in range(1, min(q_tok.shape[1] - 1, VETO_MAX_TOKENS)):
        rows = np.flatnonzero(key[:, i] & short & (q_tok[:, i + 1] != PAD))
        if not len(rows):
            continue
        w = windows[rows]
        around = (w[:, :-2] == q_tok[rows, i - 1, None]) & (w[:, 2:] == q_tok[rows, i + 1, None])
        same = w[:, 1:-1] == q_tok[rows, i, None]
        out[rows] |= (around & ~same).any(axis=1) & ~(around & same).any(axis=1)
    return out


def words_kept(windows: np.ndarray, q_tok: np.ndarray) -> np.ndarray:
    """Share of each question's words that its stretch holds in the question's order (the longest common
    subsequence of words over the question's word count)."""
    words = (q_tok != PAD) & (q_tok != BOUNDARY_ID)
    n, width = windows.shape
    prev = np.zeros((n, width + 1))
    for i in range(q_tok.shape[1]):
        eq = (windows == q_tok[:, i, None]) & words[:, i, None]
        cur = prev.copy()
        np.maximum(cur[:, 1:], prev[:, :-1] + eq, out=cur[:, 1:])
        prev = np.maximum.accumulate(cur, axis=1)
    return prev[:, -1] / np.maximum(words.sum(axis=1), 1)


def rejected(
    enc: Encoded, index: DecontaminationIndex, start, length, question, veto: bool, near: np.ndarray
) -> np.ndarray:
    """Which candidate stretches fail verification: the veto when ``veto``; and, for the candidates found
    by similarity alone (``near``: not by n-gram coverage, which is a verbatim stretch), the words kept."""
    out = np.zeros(len(start), dtype=bool)
    # Only short questions are checked; in batches of similar window widths (bounded memory).
    short = np.flatnonzero(index.question_length[question] <= VETO_MAX_TOKENS)
    short = short[np.argsort(length[short], kind="stable")]
    i = 0
    while i < len(short):
        width = int(length[short[i]])
        j = i + max(1, _BATCH_CELLS // max(1, width * VETO_MAX_TOKENS))
        sel = short[i:j]
        i = j
        windows, q_tok, key = gather(enc, index, start[sel], length[sel], question[sel])
        bad = near[sel] & (words_kept(windows, q_tok) < MIN_WORDS_KEPT - 1e-12)
        if veto:
            bad |= replaced_key_word(windows, q_tok, key)
        out[sel] = bad
    return out
