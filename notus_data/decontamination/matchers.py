"""Find benchmark questions in texts: exact, normalized, n-gram coverage and near-duplicate matching.

:func:`match_texts` takes an Arrow string array and a :class:`DecontaminationIndex` and returns, for every
text that matches, its best match: the question, the method that found it and its score. Methods, from the
strictest (the one reported when several agree; ``paraphrase`` and ``embedding``: see their modules):

``exact``
    the text, stripped of surrounding white space, equals a question.
``normalized``
    the normalized tokens of the text equal the question's (case, Unicode forms, quotes, punctuation and
    white space do not count; see :mod:`~notus_data.decontamination.normalize`).
``ngram``
    n-gram coverage: at least ``ngram_threshold`` of the question's distinct word n-grams (``ngram_size``
    tokens; sentence breaks count as tokens, and a question shorter than n is one n-gram, so it must stand as a
    whole sentence) occur in one stretch of the text.
``near_duplicate``
    weighted alignment (:mod:`~notus_data.decontamination.align`): the best-matching stretch of the text keeps
    at least ``near_duplicate_threshold`` of the question's weight; words swapped, replaced, added or dropped
    cost the weight of the words involved, and rare words weigh most.

Only candidate stretches are scored, found without a loop over rows: places where a text holds at least
``min_bigram_share`` of a question's anchor bigrams (neighbouring words, one of them a content word) close
together, and sentences made of exactly a question's words in any order (for questions made of common words,
such as "Who are you?"). Texts are processed in chunks of rows, on up to ``threads`` threads; every row's
result depends on that row alone, so the output does not depend on the chunking or the threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontamination import embedding, paraphrase
from notus_data.decontamination.align import PAD, align_batch, prompt_insert_costs
from notus_data.decontamination.catalog import default_threshold
from notus_data.decontamination.encode import encode_fast
from notus_data.decontamination.index import NUMBER_HASH, DecontaminationIndex, NgramTable, rolling_hash
from notus_data.decontamination.normalize import BOUNDARY_ID, Encoded
from notus_data.decontamination.verify import rejected

METHODS = ("exact", "normalized", "ngram", "near_duplicate", "paraphrase", "embedding")
"""The matching methods, strictest first."""
DEFAULT_METHODS = METHODS[:4]
"""The methods on by default: ``paraphrase`` and ``embedding`` (it needs a model) are off (docs/decontamination.md)."""

CHUNK_ROWS = 4096
_BATCH_CELLS = 1_500_000  # windows x width x question length aligned in one numpy batch


@dataclass(frozen=True)
class MatchSettings:
    """What the matchers look for (the user-facing options live in ``DecontaminateOptions``)."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    ngram_size: int = 8
    ngram_threshold: float | None = None  # None: each benchmark's default (catalog)
    near_duplicate_threshold: float | None = None
    min_bigram_share: float = 0.3
    threads: int = 0  # 0: as many as there are CPU cores, at most 4
    thresholds: tuple[tuple[str, str, float], ...] = ()  # (benchmark, method, value), over the above
    long_quote_words: int = (
        24  # a stretch with the n-grams of this many words in order matches, whatever the share
    )
    veto: bool = True
    paraphrase_threshold: float = 0.7
    embedding_model: str | None = None  # a static embedding model's folder or Hub id (the embedding method)
    embedding_threshold: float = 0.85

    def threshold(self, benchmark: str, method: str) -> float:
        """The threshold of ``method`` for ``benchmark``: a per-benchmark setting, else the global one, else
        the benchmark's default."""
        for name, m, value in self.thresholds:
            if name == benchmark and m == method:
                return value
        value = self.ngram_threshold if method == "ngram" else self.near_duplicate_threshold
        return default_threshold(benchmark, method) if value is None else value

    def question_thresholds(self, index: DecontaminationIndex, method: str) -> np.ndarray:
        """The threshold of ``method`` for every question of ``index`` (float64)."""
        per = np.array([self.threshold(b, method) for b in index.benchmark_names], dtype=np.float64)
        return per[index.benchmark_code]


@dataclass(frozen=True)
class Matches:
    """The best match of each matching text: parallel arrays, one item per matching text, sorted by row."""

    row: np.ndarray  # int64, position of the text in the input array
    question: np.ndarray  # int64, question index in the DecontaminationIndex
    method: np.ndarray  # object (str), one of METHODS
    score: np.ndarray  # float64 in [0, 1]

    def __len__(self) -> int:
        return len(self.row)


@dataclass
class _Windows:
    """Stretches of encoded texts to score against one question each (positions into ``Encoded.ids``)."""

    row: np.ndarray
    question: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Windows]) -> _Windows:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("row", "question", "start", "length"))
        )


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by a sort (numpy 2's hash-based unique is tens of times slower on large int arrays)."""
    out = np.sort(values)
    keep = np.ones(len(out), dtype=bool)
    keep[1:] = out[1:] != out[:-1]
    return out[keep]


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------------------------------- candidates


def _bigram_windows(enc: Encoded, index: DecontaminationIndex, share: float) -> _Windows:
    """Clusters of a question's anchor bigrams in a text (hits no further apart than the question is long)
    holding at least ``share`` of them; the window spans the cluster plus the question's length each side."""
    n_vocab = len(index.vocabulary)
    ids = enc.ids.astype(np.int64)
    left, right = ids[:-1], ids[1:]
    known = (left >= 0) & (right >= 0)
    ok = known & (index.is_anchor[np.maximum(left, 0)] | index.is_anchor[np.maximum(right, 0)])
    pos = np.flatnonzero(ok)
    keys = left[pos] * n_vocab + right[pos]
    slot = np.minimum(np.searchsorted(index.bigram_keys, keys), len(index.bigram_keys) - 1)
    hit = index.bigram_keys[slot] == keys
    pos, slot = pos[hit], slot[hit]
    starts = index.bigram_ptr[slot]
    counts = index.bigram_ptr[slot + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return _Windows(_empty(), _empty(), _empty(), _empty())
    first = np.cumsum(counts) - counts
    q = index.bigram_questions[np.repeat(starts - first, counts) + np.arange(total)]
    p = np.repeat(pos, counts)
    k = np.repeat(slot, counts)
    row = np.searchsorted(enc.offsets, p, side="right") - 1
    # Sorted by (row, question, position), through one int64 key (a 3-key lexsort is several times slower).
    order = np.argsort((row * index.num_questions + q) * (len(ids) + 1) + p)
    row, q, p, k = row[order], q[order], p[order], k[order]
    q_len = index.question_length[q]
    new = np.ones(len(p), dtype=bool)
    new[1:] = (row[1:] != row[:-1]) | (q[1:] != q[:-1]) | (p[1:] - p[:-1] > q_len[1:] + 2)
    cluster = np.cumsum(new) - 1
    n_clusters = int(cluster[-1]) + 1
    distinct = _sorted_unique(cluster * len(index.bigram_keys) + k) // len(index.bigram_keys)
    held = np.bincount(distinct, minlength=n_clusters)
    c_first = p[new]
    c_last = p[np.append(np.flatnonzero(new)[1:] - 1, len(p) - 1)]
    c_row, c_q = row[new], q[new]
    need = np.maximum(1, np.ceil(share * index.bigram_count[c_q] - 1e-9))
    keep = held >= need
    c_row, c_q, c_first, c_last = c_row[keep], c_q[keep], c_first[keep], c_last[keep]
    reach = index.question_length[c_q] + 1
    lo = np.maximum(enc.offsets[c_row], c_first - reach)
    hi = np.minimum(enc.offsets[c_row + 1], c_last + 2 + reach)
    return _Windows(c_row, c_q, lo, hi - lo)


def _sentence_windows(enc: Encoded, index: DecontaminationIndex) -> _Windows:
    """Sentences (between two markers) made of exactly the words of a one-sentence question, any order."""
    ids = enc.ids
    markers = np.flatnonzero(ids == BOUNDARY_ID)
    if len(markers) < 2 or not len(index.bag_hashes):
        return _Windows(_empty(), _empty(), _empty(), _empty())
    token_hash = np.where(ids >= 0, index.token_hash[np.maximum(ids, 0)], index.unknown_hash)
    token_hash[markers] = 0
    sums = np.add.reduceat(token_hash, markers)
    lengths = np.diff(np.append(markers, len(ids))) - 1
    cand = np.flatnonzero((lengths > 0) & (lengths <= index.max_question_len - 2))
    lo = np.searchsorted(index.bag_hashes, sums[cand], side="left")
    hi = np.searchsorted(index.bag_hashes, sums[cand], side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return _Windows(_empty(), _empty(), _empty(), _empty())
    first = np.cumsum(counts) - counts
    q = index.bag_questions[np.repeat(lo - first, counts) + np.arange(total)]
    seg = np.repeat(cand, counts)
    start = markers[seg]
    length = lengths[seg] + 2  # both markers
    row = np.searchsorted(enc.offsets, start, side="right") - 1
    return _Windows(row, q, start, length)


# ------------------------------------------------------------------------------------------- scoring


def _score(
    enc: Encoded, win: _Windows, index: DecontaminationIndex, settings: MatchSettings, methods: set[str]
):
    """Per window: near-duplicate similarity, n-gram coverage, and whether it is the whole text and equal
    to the question (normalized match)."""
    n = len(win.row)
    sim = np.zeros(n)
    coverage = np.zeros(n)
    equal = np.zeros(n, dtype=bool)
    q_len = index.question_length[win.question]
    bucket = np.ceil(np.log2(np.maximum(win.length, 8))).astype(np.int64)
    order = np.lexsort((win.length, q_len, bucket))
    grams = index.ngrams(settings.ngram_size) if "ngram" in methods else None
    row_len = np.diff(enc.offsets)
    i = 0
    while i < n:
        j = i + 1
        width, depth = int(win.length[order[i]]), int(q_len[order[i]])
        while j < n and bucket[order[j]] == bucket[order[i]]:
            new_width, new_depth = max(width, int(win.length[order[j]])), max(depth, int(q_len[order[j]]))
            if (j - i + 1) * new_width * new_depth > _BATCH_CELLS:
                break
            width, depth = new_width, new_depth
            j += 1
        sel = order[i:j]
        i = j
        qs, lens, ql = win.question[sel], win.length[sel], q_len[sel]
        col = np.arange(width)
        valid = col[None, :] < lens[:, None]
        windows = np.where(valid, enc.ids[np.where(valid, win.start[sel, None] + col[None, :], 0)], PAD)
        q_col = np.arange(depth)
        q_valid = q_col[None, :] < ql[:, None]
        q_tok = np.where(
            q_valid, index.tokens.ids[np.where(q_valid, index.tokens.offsets[qs, None] + q_col, 0)], PAD
        )
        # Normalized: the window is the whole text and holds exactly the question's tokens.
        whole = (win.start[sel] == enc.offsets[win.row[sel]]) & (lens == row_len[win.row[sel]]) & (lens == ql)
        if whole.any():
            k = min(width, depth)
            same = (windows[:, :k] == q_tok[:, :k]) | ~q_valid[:, :k]
            equal[sel] = whole & same.all(axis=1)
        if grams is not None:
            coverage[sel] = _coverage(windows, lens, qs, ql, index, grams)
        q_pos = np.where(q_valid, index.tokens.offsets[qs, None] + q_col, 0)
        if "near_duplicate" in methods:
            q_weight = np.where(q_valid, index.token_weight[q_pos], 0.0)
            cost = align_batch(
                windows.astype(np.int32),
                prompt_insert_costs(windows, index.weight, index.unknown_weight),
                q_tok.astype(np.int32),
                q_weight,
                ql,
            )
            sim[sel] = np.clip(1.0 - cost / index.question_weight[qs], 0.0, 1.0)
    return sim, coverage, equal


def _coverage(windows, lens, qs, q_len, index: DecontaminationIndex, grams: NgramTable) -> np.ndarray:
    """Share of each question's distinct n-grams that occur in its window."""
    out = np.zeros(len(qs))
    hashes = np.where(windows >= 0, index.token_hash[np.maximum(windows, 0)], index.unknown_hash)
    masked = index.masks_numbers[qs]
    if masked.any():
        mw = windows[masked]
        hashes[masked] = np.where(mw >= 0, index.masked_hash[np.maximum(mw, 0)], NUMBER_HASH)
    size = np.minimum(grams.n, q_len)
    for s in np.unique(size).tolist():
        rows = np.flatnonzero(size == s)
        h = rolling_hash(hashes[rows], s)
        if not h.shape[1]:
            continue
        inside = np.arange(h.shape[1])[None, :] + s <= lens[rows, None]
        keys = NgramTable.key(h, qs[rows, None])
        slot = np.minimum(np.searchsorted(grams.keys, keys), len(grams.keys) - 1)
        found = (grams.keys[slot] == keys) & inside
        r, c = np.nonzero(found)
        if not len(r):
            continue
        distinct = np.unique(np.stack([r, keys[r, c].view(np.int64)], axis=1), axis=0)[:, 0]
        out[rows] = np.bincount(distinct, minlength=len(rows)) / grams.count[qs[rows]]
    return out


# ------------------------------------------------------------------------------------------- entry point


class _Best:
    """The best match so far of every row of a chunk."""

    def __init__(self, n: int):
        self.rank = np.full(n, len(METHODS), dtype=np.int64)
        self.question = np.full(n, -1, dtype=np.int64)
        self.score = np.zeros(n)

    def offer(self, rows: np.ndarray, qs: np.ndarray, method: str, scores: np.ndarray) -> None:
        if not len(rows):
            return
        rank = METHODS.index(method)
        # Within a method the higher score wins, then the lower question index (deterministic).
        order = np.lexsort((qs, -scores, rows))
        rows, qs, scores = rows[order], qs[order], scores[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        rows, qs, scores = rows[first], qs[first], scores[first]
        better = rank < self.rank[rows]
        rows, qs, scores = rows[better], qs[better], scores[better]
        self.rank[rows] = rank
        self.question[rows] = qs
        self.score[rows] = scores


def _match_chunk(texts: pa.Array, index: DecontaminationIndex, settings: MatchSettings) -> Matches:
    methods = set(settings.methods)
    best = _Best(len(texts))
    if "exact" in methods:
        stripped = pc.utf8_trim_whitespace(pc.fill_null(texts, ""))
        found = pc.index_in(stripped, value_set=index.exact_values)
        rows = np.flatnonzero(pc.is_valid(found).to_numpy(zero_copy_only=False))
        qs = index.exact_question[
            pc.take(found, pa.array(rows)).to_numpy(zero_copy_only=False).astype(np.int64)
        ]
        best.offer(rows, qs, "exact", np.ones(len(rows)))
    if methods - {"exact"}:
        enc = encode_fast(texts, index.vocabulary)
        win = _Windows.concat(
            [_bigram_windows(enc, index, settings.min_bigram_share), _sentence_windows(enc, index)]
        )
        if len(win.row):
            sim, coverage, equal = _score(enc, win, index, settings, methods)
            if "normalized" in methods:
                best.offer(win.row[equal], win.question[equal], "normalized", np.ones(int(equal.sum())))
            ngram_hit = np.zeros(len(win.row), dtype=bool)
            near_hit = np.zeros(len(win.row), dtype=bool)
            if "ngram" in methods:
                limit = settings.question_thresholds(index, "ngram")[win.question]
                grams = index.ngrams(settings.ngram_size).count[win.question]
                need = max(1, settings.long_quote_words - settings.ngram_size + 1)
                long_quote = coverage * grams >= need - 1e-9
                ngram_hit = (coverage >= limit - 1e-12) | long_quote
            if "near_duplicate" in methods:
                limit = settings.question_thresholds(index, "near_duplicate")[win.question]
                near_hit = sim >= limit - 1e-12
            # Verification (veto, words kept) of the candidates that passed, not of every window.
            cand = np.flatnonzero((ngram_hit | near_hit) & ~equal)
            bad = np.zeros(len(win.row), dtype=bool)
            bad[cand] = rejected(
                enc,
                index,
                win.start[cand],
                win.length[cand],
                win.question[cand],
                settings.veto,
                near_hit[cand] & ~ngram_hit[cand],
            )
            hit = ngram_hit & ~bad
            best.offer(win.row[hit], win.question[hit], "ngram", coverage[hit])
            hit = near_hit & ~bad
            best.offer(win.row[hit], win.question[hit], "near_duplicate", sim[hit])
        if "paraphrase" in methods:
            rows, qs, scores, start, span = paraphrase.match(
                enc, index, paraphrase.stem_table(index), settings.paraphrase_threshold
            )
            bad = rejected(enc, index, start, span, qs, settings.veto, np.zeros(len(qs), dtype=bool))
            best.offer(rows[~bad], qs[~bad], "paraphrase", scores[~bad])
        if "embedding" in methods:
            found = embedding.match(texts, enc, index, settings.embedding_model, settings.embedding_threshold)
            best.offer(*found[:2], "embedding", found[2])
    rows = np.flatnonzero(best.rank < len(METHODS))
    names = np.array(METHODS, dtype=object)
    return Matches(
        row=rows, question=best.question[rows], method=names[best.rank[rows]], score=best.score[rows]
    )


def match_texts(
    texts: pa.Array | pa.ChunkedArray, index: DecontaminationIndex, settings: MatchSettings | None = None
) -> Matches:
    """The best match of every text that matches a benchmark question (see the module docstring).

    >>> from notus_data.decontamination.index import BenchmarkQuestion
    >>> index = DecontaminationIndex.build([BenchmarkQuestion("tqa", "Why do veins appear blue?")])
    >>> found = match_texts(pa.array(["Q: why do VEINS appear blue", "Why is the sky blue?"]), index)
    >>> found.row.tolist(), found.method.tolist()
    ([0], ['ngram'])
    """
    settings = settings or MatchSettings()
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if "ngram" in settings.methods:
        index.ngrams(settings.ngram_size)  # build once, before the threads share it
    if "paraphrase" in settings.methods or "embedding" in settings.methods:
        paraphrase.stem_table(index)
    if "embedding" in settings.methods:
        embedding.question_vectors(index, settings.embedding_model)
    starts = list(range(0, len(texts), CHUNK_ROWS))
    threads = settings.threads or min(4, os.cpu_count() or 1)

    def run(start: int) -> Matches:
        return _match_chunk(texts.slice(start, CHUNK_ROWS), index, settings)

    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(s) for s in starts]
    if not parts:
        return Matches(_empty(), _empty(), np.zeros(0, dtype=object), np.zeros(0))
    return Matches(
        row=np.concatenate([p.row + s for p, s in zip(parts, starts, strict=True)]),
        question=np.concatenate([p.question for p in parts]),
        method=np.concatenate([p.method for p in parts]),
        score=np.concatenate([p.score for p in parts]),
    )
