"""The ``paraphrase`` method: a question reworded (other words, other order), found by the weight of its
content words that a stretch of the prompt holds. Offline, numpy only; off by default (see
docs/decontamination.md for what it adds and costs).

Words are reduced to a crude stem (``seeds`` -> ``seed``, ``eating`` -> ``eat``); function words and sentence
markers do not count. Each stem of a question weighs its inverse document frequency over the questions, so a
question is its rare words: "watermelon seeds" make "What happens if you eat watermelon seeds?". A prompt
stretch is a candidate where the stems of one question gather (no gap longer than the question's own length);
its score is the share of the question's stem weight the stretch holds. A candidate is a match when

* its score reaches ``paraphrase_threshold``,
* it holds at least :data:`MIN_STEMS` of the question's stems (a question with fewer is left to the other
  methods: "Are you a human?" is one rare word, found in any text about humans),
* it holds every number of the question (not for gsm8k, whose numbers change) and its rarest stem, and
* it is not much longer than the question (at most :data:`MAX_SPREAD` times), so a long prompt that
  mentions the same words here and there does not match;
* and it passes the meaning veto (:mod:`~notus_data.decontamination.verify`).
"""

from __future__ import annotations

import re

import numpy as np

from notus_data.decontamination.index import DecontaminationIndex
from notus_data.decontamination.normalize import Encoded

MIN_STEMS = 3
MAX_SPREAD = 2.5
MAX_OWNERS = 64  # a stem held by more questions brings no candidates (it weighs little anyway)
_SUFFIXES = re.compile(r"(?:ies|ied|ing|ed|es|ly|s)$")


def stem(word: str) -> str:
    """A crude English stem: ``"seeds"`` -> ``"seed"``, ``"happened"`` -> ``"happen"``, ``"flies"`` ->
    ``"fl"``; words of up to four letters stay."""
    if len(word) <= 4 or not word.isalpha():
        return word
    out = _SUFFIXES.sub("", word)
    return out if len(out) >= 3 else word


class StemTable:
    """Question stems: ``of_word`` (vocabulary id -> stem id, -1 for function words and markers), ``weight``
    (idf per stem), per-question weight, the rarest stem and the number stems, and the stem -> question
    postings."""

    def __init__(self, index: DecontaminationIndex):
        words = index.vocabulary.words
        stems: dict[str, int] = {}
        of_word = np.full(len(words), -1, dtype=np.int64)
        for i, w in enumerate(words):
            if i < 2 or index.is_stopword[i]:
                continue
            of_word[i] = stems.setdefault(stem(w), len(stems))
        self.of_word = of_word
        n_s = max(1, len(stems))
        is_number = np.zeros(n_s, dtype=bool)
        is_number[of_word[index.is_number & (of_word >= 0)]] = True
        q_of = index.tokens.row_ids()
        s = of_word[index.tokens.ids.astype(np.int64)]
        keep = s >= 0
        pairs = np.unique(np.stack([q_of[keep], s[keep]], axis=1), axis=0)  # small: built once
        q, s = pairs[:, 0], pairs[:, 1]
        n_q = index.num_questions
        df = np.bincount(s, minlength=n_s)
        self.weight = np.log((n_q + 1.0) / (df + 1.0)) + 1.0
        masked = index.masks_numbers[q]
        w = np.where(is_number[s] & masked, 0.0, self.weight[s])
        self.question_weight = np.bincount(q, weights=w, minlength=n_q)
        self.question_stems = np.bincount(q, minlength=n_q)
        self.numbers_needed = np.bincount(q, weights=(is_number[s] & ~masked), minlength=n_q)
        self.is_number = is_number
        # Rarest stem of each question (lowest df, then lowest id).
        order = np.lexsort((s, df[s], q))
        first = np.ones(len(order), dtype=bool)
        first[1:] = q[order][1:] != q[order][:-1]
        self.rarest = np.full(n_q, -1, dtype=np.int64)
        self.rarest[q[order][first]] = s[order][first]
        common = df > MAX_OWNERS
        ok = ~common[s]
        self.ptr = np.zeros(n_s + 1, dtype=np.int64)
        np.cumsum(np.bincount(s[ok], minlength=n_s), out=self.ptr[1:])
        self.owners = q[ok][np.argsort(s[ok], kind="stable")]
        self.masked = index.masks_numbers


def stem_table(index: DecontaminationIndex) -> StemTable:
    """The stem table of ``index``, built once and kept on it."""
    table = getattr(index, "_stem_table", None)
    if table is None:
        table = index._stem_table = StemTable(index)
    return table


def match(enc: Encoded, index: DecontaminationIndex, table: StemTable, threshold: float):
    """(rows, questions, scores, stretch starts, stretch lengths) of the paraphrase candidates in ``enc`` (see the module docstring)."""
    ids = enc.ids.astype(np.int64)
    s = np.where(ids >= 0, table.of_word[np.maximum(ids, 0)], -1)
    pos = np.flatnonzero(s >= 0)
    s = s[pos]
    starts, counts = table.ptr[s], table.ptr[s + 1] - table.ptr[s]
    total = int(counts.sum())
    empty = np.zeros(0, dtype=np.int64)
    if total == 0:
        return empty, empty, np.zeros(0), empty, empty
    first = np.cumsum(counts) - counts
    q = table.owners[np.repeat(starts - first, counts) + np.arange(total)]
    p, st = np.repeat(pos, counts), np.repeat(s, counts)
    row = np.searchsorted(enc.offsets, p, side="right") - 1
    order = np.argsort((row * index.num_questions + q) * (len(ids) + 1) + p)
    row, q, p, st = row[order], q[order], p[order], st[order]
    q_len = index.question_length[q]
    new = np.ones(len(p), dtype=bool)
    new[1:] = (row[1:] != row[:-1]) | (q[1:] != q[:-1]) | (p[1:] - p[:-1] > q_len[1:])
    cluster = np.cumsum(new) - 1
    n_c = int(cluster[-1]) + 1
    n_s = len(table.weight)
    key = np.sort(cluster * n_s + st)
    key = key[np.append(True, key[1:] != key[:-1])]
    c_of, s_of = key // n_s, key % n_s
    c_q = q[new]
    w = np.where(table.is_number[s_of] & table.masked[c_q[c_of]], 0.0, table.weight[s_of])
    held = np.bincount(c_of, weights=w, minlength=n_c)
    n_held = np.bincount(c_of, minlength=n_c)
    numbers = np.bincount(c_of, weights=table.is_number[s_of] & ~table.masked[c_q[c_of]], minlength=n_c)
    rare = np.bincount(c_of, weights=s_of == table.rarest[c_q[c_of]], minlength=n_c)
    c_row = row[new]
    span = p[np.append(np.flatnonzero(new)[1:] - 1, len(p) - 1)] - p[new] + 1
    score = held / np.maximum(table.question_weight[c_q], 1e-9)
    ok = (
        (score >= threshold - 1e-12)
        & (n_held >= MIN_STEMS)
        & (numbers >= table.numbers_needed[c_q])
        & (rare > 0)
        & (span <= MAX_SPREAD * index.question_length[c_q])
    )
    return c_row[ok], c_q[ok], np.minimum(score[ok], 1.0), p[new][ok], span[ok]
