"""Weighted local alignment of benchmark questions inside prompts, batched with numpy.

For a candidate pair (prompt window ``P``, question ``Q`` framed by boundary markers) the aligner finds the
stretch of ``P`` that matches ``Q`` at the lowest cost, where (``w`` = token weight, see
:mod:`~notus_data.decontamination.index`):

* a question token missing or replaced in the prompt costs its weight ``w(q)``;
* an extra prompt token inside the matched stretch costs ``INSERT_FACTOR * w(p)``; an extra sentence break
  costs ``BOUNDARY_INSERT_COST``;
* two neighbouring question words found swapped cost ``SWAP_FACTOR * (w(a) + w(b))``;
* the stretch may start and end anywhere in ``P`` at no cost (a question inside a longer prompt).

The similarity is ``1 - cost / weight(Q)``: 1.0 for a copy (up to normalization), lower as weight is lost.
The dynamic program runs one question token at a time over all candidates at once (a 2-D array of windows);
insertions along a row are resolved with a running minimum, so no Python loop runs per prompt token.
"""

from __future__ import annotations

import numpy as np

from notus_data.decontamination.normalize import BOUNDARY_ID

INSERT_FACTOR = 0.5
BOUNDARY_INSERT_COST = 0.5
SWAP_FACTOR = 0.1
PAD = -2  # a prompt position past the window end: matches nothing, costs nothing to skip


def align_batch(
    windows: np.ndarray,
    insert_cost: np.ndarray,
    questions: np.ndarray,
    question_weights: np.ndarray,
    question_lengths: np.ndarray,
) -> np.ndarray:
    """Lowest alignment cost of each question inside its window.

    ``windows`` (n, W) int32 prompt token ids (padded with -2), ``insert_cost`` (n, W) float64 (0 on pads),
    ``questions`` (n, M) int32 question token ids, ``question_weights`` (n, M) float64, ``question_lengths``
    (n,) int. Returns (n,) float64 costs.
    """
    n, width = windows.shape
    max_len = questions.shape[1]
    cum_insert = np.zeros((n, width + 1), dtype=np.float64)
    np.cumsum(insert_cost, axis=1, out=cum_insert[:, 1:])
    prev2 = None
    prev = np.zeros((n, width + 1), dtype=np.float64)  # free start anywhere in the window
    result = np.full(n, np.inf)
    is_word = windows != BOUNDARY_ID
    for i in range(max_len):
        q_i = questions[:, i]
        w_i = question_weights[:, i][:, None]
        current = prev + w_i  # question token i missing
        matched = windows == q_i[:, None]
        diagonal = prev[:, :-1] + np.where(matched, 0.0, w_i)
        np.minimum(current[:, 1:], diagonal, out=current[:, 1:])
        if prev2 is not None:
            q_prev = questions[:, i - 1]
            swapped = (
                (windows[:, 1:] == q_prev[:, None])
                & (windows[:, :-1] == q_i[:, None])
                & (q_prev != q_i)[:, None]
                & is_word[:, 1:]
                & is_word[:, :-1]
            )
            swap_cost = SWAP_FACTOR * (question_weights[:, i] + question_weights[:, i - 1])
            via_swap = np.where(swapped, prev2[:, :-2] + swap_cost[:, None], np.inf)
            np.minimum(current[:, 2:], via_swap, out=current[:, 2:])
        # Extra prompt tokens: D[j] = min_{j' <= j} (E[j'] + C[j] - C[j']).
        current = cum_insert + np.minimum.accumulate(current - cum_insert, axis=1)
        done = question_lengths == i + 1
        if done.any():
            result[done] = current[done].min(axis=1)
        prev2, prev = prev, current
    return result


def prompt_insert_costs(window: np.ndarray, weight: np.ndarray, unknown_weight: float) -> np.ndarray:
    """Cost of an extra prompt token at each window position (-1 = unknown word, -2 = padding)."""
    safe = np.where(window >= 0, window, 0)
    cost = INSERT_FACTOR * np.where(window >= 0, weight[safe], unknown_weight)
    cost = np.where(window == BOUNDARY_ID, BOUNDARY_INSERT_COST, cost)
    return np.where(window == PAD, 0.0, cost)
