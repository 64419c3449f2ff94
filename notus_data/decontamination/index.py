"""The benchmark index: every benchmark question tokenized once, with the lookup tables the matchers use.

Built once per run from the benchmark questions (:meth:`DecontaminationIndex.build`), optionally cached on
disk keyed by a hash of its content (see :mod:`~notus_data.decontamination.benchmarks`).

Token weights: every word weighs ``BASE_WEIGHT`` plus its inverse document frequency over the benchmark
questions, so the words that make a question (``watermelon``, ``veins``) weigh much more than its template
(``what happens if you``); English function words get at most ``STOPWORD_WEIGHT`` on top of the base. The
near-duplicate matcher counts what share of a question's weight a prompt keeps, so a copy with one common
word changed still matches while a question that keeps the template and changes the subject does not.

>>> index = DecontaminationIndex.build([BenchmarkQuestion("truthfulqa", "Why do veins appear blue?")])
>>> index.num_questions, index.words(0)
(1, ['|', 'why', 'do', 'veins', 'appear', 'blue', '|'])
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from notus_data.decontamination.catalog import KNOWN_BENCHMARKS, matching_forms
from notus_data.decontamination.encode import Vocabulary
from notus_data.decontamination.normalize import (
    BOUNDARY,
    BOUNDARY_ID,
    EMPTY_ID,
    Encoded,
    encode_tokens,
    tokenize,
)

INDEX_VERSION = 3

#: English function words: whatever their frequency in a benchmark, they carry little of a question's meaning.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are arent as at be because been before being below
    between both but by can cant cannot could couldnt did didnt do does doesnt doing dont down during each few
    for from further had hadnt has hasnt have havent having he hed hes her here heres hers herself him himself
    his how hows i id ill im ive if in into is isnt it its itself lets me more most mustnt my myself no nor not
    of off on once only or other ought our ours ourselves out over own same shant she shed shell shes should
    shouldnt so some such than that thats the their theirs them themselves then there theres these they theyd
    theyll theyre theyve this those through to too under until up very was wasnt we wed well were weve werent
    what whats when whens where wheres which while who whos whom why whys will with wont would wouldnt you youd
    youll youre youve your yours yourself yourselves s t""".split()
)

#: Weight of a sentence boundary (start or end of a question): a short question must also stand as its own
#: sentence in the prompt to match, a long one hardly notices.
BOUNDARY_WEIGHT = 2.0
NUMBER_HASH = np.uint64(0x2545F4914F6CDD1D)
#: Weight every word has on top of its content weight: the words that frame a question ("are you a")
#: matter too, or a short question would match any text that holds its one rare word.
BASE_WEIGHT = 1.5
#: Highest content weight of a function word.
STOPWORD_WEIGHT = 0.5
#: Weight of a number in a benchmark whose numbers are masked (gsm8k).
NUMBER_WEIGHT = 0.3
#: A content word held by at most this share of the questions (or KEY_MIN_DF of them) is a key word: a near
#: copy that lacks it is vetoed.
KEY_MAX_SHARE = 0.005
KEY_MIN_DF = 3
KEY_MIN_QUESTIONS = 50
#: A word bigram shared by more questions than this does not bring texts in as candidates on its own.
MAX_BIGRAM_QUESTIONS = 16


@dataclass(frozen=True)
class BenchmarkQuestion:
    """One question of a benchmark: ``benchmark`` is its name (``"truthfulqa"``), ``question`` its text, ``id``
    its id in the benchmark (``"81/turn-2"`` for the second turn of MT-Bench question 81)."""

    benchmark: str
    question: str
    id: str = ""


def dedupe(questions: Iterable[BenchmarkQuestion]) -> tuple[list[str], list[str], list[str]]:
    """(benchmark names, question texts, ids): stripped, empty ones dropped, repeats within a benchmark once
    (the first); a question without an id gets its position within its benchmark."""
    seen: set[tuple[str, str]] = set()
    position: dict[str, int] = {}
    names: list[str] = []
    texts: list[str] = []
    ids: list[str] = []
    for item in questions:
        k = position.get(item.benchmark, 0)
        position[item.benchmark] = k + 1
        text = item.question.strip() if isinstance(item.question, str) else ""
        if not text or (item.benchmark, text) in seen:
            continue
        seen.add((item.benchmark, text))
        names.append(item.benchmark)
        texts.append(text)
        ids.append(item.id or str(k))
    return names, texts, ids


def content_hash(
    benchmarks: Sequence[str], questions: Sequence[str], ids: Sequence[str] | None = None
) -> str:
    """sha256 of the index version, the benchmark names, the questions and their ids (what an index is built
    from)."""
    digest = hashlib.sha256(f"notus-decontamination-index-v{INDEX_VERSION}\n".encode())
    ids = ids if ids is not None else [str(i) for i in range(len(questions))]
    for name, text, qid in zip(benchmarks, questions, ids, strict=True):
        digest.update(json.dumps([name, text, qid], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    return np.log((n_docs + 1.0) / (df + 1.0)) + 1.0


def _csr(keys: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Group ``values`` by integer ``keys`` < size: (pointer array of size+1, values sorted by key, value)."""
    order = np.lexsort((values, keys))
    ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=ptr[1:])
    return ptr, values[order]


def rolling_hash(token_hash: np.ndarray, n: int) -> np.ndarray:
    """Hash of every ``n``-token window along the last axis of an array of token hashes (uint64, wraps)."""
    width = token_hash.shape[-1] - n + 1
    out = np.zeros((*token_hash.shape[:-1], max(0, width)), dtype=np.uint64)
    if width <= 0:
        return out
    with np.errstate(over="ignore"):
        for k in range(n):
            out = out * np.uint64(1099511628211) + token_hash[..., k : k + width]
    return out


class DecontaminationIndex:
    """Benchmark questions, tokenized, with the tables the matchers need.

    Attributes (read-only): ``benchmarks`` and ``questions`` (one entry per question), ``vocabulary``
    (:class:`~notus_data.decontamination.encode.Vocabulary`), ``tokens`` (question token ids,
    :class:`~notus_data.decontamination.normalize.Encoded`), ``weight`` (float64 per word id),
    ``unknown_weight`` (weight of a word no question holds), ``question_weight`` (per question),
    ``content_hash``.
    """

    def __init__(self, benchmarks: Sequence[str], questions: Sequence[str], ids: Sequence[str] | None = None):
        if len(benchmarks) != len(questions) or (ids is not None and len(ids) != len(questions)):
            raise ValueError("benchmarks, questions and ids must have the same length")
        if not questions:
            raise ValueError("no benchmark questions to index")
        ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(questions))]
        # A question may be matched by more than one form (code: also without its doctests): one entry each,
        # all with the question's own text and id.
        self.benchmarks, self.questions, self.ids, forms = [], [], [], []
        for b, q, i in zip(benchmarks, questions, ids, strict=True):
            for form in matching_forms(b, q):
                self.benchmarks.append(b)
                self.questions.append(q)
                self.ids.append(i)
                forms.append(form)
        token_lists = tokenize(pa.array(forms, pa.string()))
        words = {w for w in token_lists.flatten().to_pylist() if w and w != BOUNDARY}
        self.vocabulary = Vocabulary([BOUNDARY, "", *sorted(words)])
        self.tokens: Encoded = encode_tokens(token_lists, self.vocabulary.array)
        self._build_tables()

    @classmethod
    def build(cls, questions: Iterable[BenchmarkQuestion]) -> DecontaminationIndex:
        """Index ``questions``: surrounding white space stripped, empty ones dropped, a question repeated
        within a benchmark kept once (the first time)."""
        return cls(*dedupe(questions))

    @property
    def num_questions(self) -> int:
        return len(self.questions)

    @property
    def content_hash(self) -> str:
        """sha256 of the index version, the benchmark names and the questions."""
        return content_hash(self.benchmarks, self.questions, self.ids)

    # ----------------------------------------------------------------------------------------------- cache

    def save(self, path: str | Path) -> None:
        """Write the index (questions, vocabulary, token ids) to an ``.npz`` file, atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": INDEX_VERSION,
            "hash": self.content_hash,
            "benchmarks": self.benchmarks,
            "ids": self.ids,
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez_compressed(
            tmp,
            meta=np.array(json.dumps(meta)),
            questions=np.array(json.dumps(self.questions, ensure_ascii=False)),
            words=np.array(json.dumps(self.vocabulary.words, ensure_ascii=False)),
            ids=self.tokens.ids,
            offsets=self.tokens.offsets,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> DecontaminationIndex:
        """Read an index written by :meth:`save`; raises ValueError if it is from another version or damaged."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            questions = json.loads(str(data["questions"]))
            words = json.loads(str(data["words"]))
            ids, offsets = data["ids"], data["offsets"]
        if meta.get("version") != INDEX_VERSION:
            raise ValueError(f"{path}: index version {meta.get('version')}, expected {INDEX_VERSION}")
        if content_hash(meta["benchmarks"], questions, meta["ids"]) != meta["hash"]:
            raise ValueError(f"{path}: the questions do not match the content hash (damaged file)")
        index = cls.__new__(cls)
        index.benchmarks, index.questions = list(meta["benchmarks"]), questions
        index.ids = list(meta["ids"])
        index.vocabulary = Vocabulary(words)
        index.tokens = Encoded(ids=ids.astype(np.int32), offsets=offsets.astype(np.int64))
        index._build_tables()
        return index

    def question_tokens(self, q: int) -> np.ndarray:
        return self.tokens.row(q)

    def words(self, q: int) -> list[str]:
        """The tokens of question ``q`` as words (``|`` for a sentence boundary); for messages and tests."""
        return [
            "|" if i == BOUNDARY_ID else self.vocabulary.words[i] for i in self.question_tokens(q).tolist()
        ]

    # ----------------------------------------------------------------------------------------------- tables

    def _build_tables(self) -> None:
        n_vocab = len(self.vocabulary)
        n_q = self.num_questions
        ids, offsets = self.tokens.ids.astype(np.int64), self.tokens.offsets
        q_of_token = self.tokens.row_ids()
        self.question_length = np.diff(offsets)
        self.max_question_len = int(self.question_length.max())

        # Weights: base + inverse document frequency over the questions (capped for function words).
        pairs = np.sort(q_of_token * n_vocab + ids)
        pairs = pairs[np.append(True, pairs[1:] != pairs[:-1])]
        df = np.bincount(pairs % n_vocab, minlength=n_vocab).astype(np.float64)
        content = _idf(df, n_q)
        self.is_stopword = np.array([w in STOPWORDS for w in self.vocabulary.words], dtype=bool)
        content[self.is_stopword] = np.minimum(content[self.is_stopword], STOPWORD_WEIGHT)
        self.weight = BASE_WEIGHT + content
        self.weight[BOUNDARY_ID] = BOUNDARY_WEIGHT
        self.weight[EMPTY_ID] = 0.0
        self.unknown_weight = BASE_WEIGHT + float(_idf(np.zeros(1), n_q)[0])
        self.df = df

        # Benchmarks: a code per question, and what the catalog says about each (numbers masked, veto).
        self.benchmark_names = list(dict.fromkeys(self.benchmarks))
        code = {name: k for k, name in enumerate(self.benchmark_names)}
        self.benchmark_code = np.array([code[b] for b in self.benchmarks], dtype=np.int64)
        specs = [KNOWN_BENCHMARKS.get(b) for b in self.benchmark_names]
        masked_bench = np.array([bool(s and s.mask_numbers) for s in specs], dtype=bool)
        self.masks_numbers = masked_bench[self.benchmark_code]
        vetoes = np.array([s is None or s.veto for s in specs], dtype=bool)[self.benchmark_code]
        self.is_number = np.array([any(c.isdigit() for c in w) for w in self.vocabulary.words], dtype=bool)
        # Per question token: its weight (numbers of a masked benchmark weigh NUMBER_WEIGHT: changing them
        # does not make another problem), and whether it decides the question's meaning (the veto's words).
        masked_token = self.masks_numbers[q_of_token] & self.is_number[ids]
        self.token_weight = np.where(masked_token, NUMBER_WEIGHT, self.weight[ids])
        self.question_weight = np.add.reduceat(self.token_weight, offsets[:-1])
        # Rareness says little in a handful of questions: key words need an index of KEY_MIN_QUESTIONS.
        rare = df <= max(KEY_MIN_DF, KEY_MAX_SHARE * n_q)
        key_word = ~self.is_stopword & rare & ~self.is_number & (n_q >= KEY_MIN_QUESTIONS)
        key_word[[BOUNDARY_ID, EMPTY_ID]] = False
        self.is_key_token = (key_word[ids] | self.is_number[ids]) & ~masked_token & vetoes[q_of_token]
        # Content words: neither function words nor markers.
        self.is_anchor = ~self.is_stopword
        self.is_anchor[[BOUNDARY_ID, EMPTY_ID]] = False

        # Anchor bigrams: neighbouring tokens of a question, at least one a content word. A text that holds
        # enough of a question's anchor bigrams close together is a candidate for that question.
        left, right = ids[:-1], ids[1:]
        same_q = q_of_token[:-1] == q_of_token[1:]
        useful = same_q & (self.is_anchor[left] | self.is_anchor[right])
        keys = left[useful] * n_vocab + right[useful]
        owners = q_of_token[:-1][useful]
        key_q = np.unique(np.stack([keys, owners], axis=1), axis=0)
        self.bigram_keys, key_id = np.unique(key_q[:, 0], return_inverse=True)
        owners_per_key = np.bincount(key_id, minlength=len(self.bigram_keys))
        common = owners_per_key > MAX_BIGRAM_QUESTIONS
        # A question's share of bigrams counts only those that bring candidates in (not the common ones).
        self.bigram_count = np.bincount(key_q[:, 1][~common[key_id]], minlength=n_q)
        key_id_kept = key_id[~common[key_id]]
        self.bigram_ptr, self.bigram_questions = _csr(
            key_id_kept, key_q[:, 1][~common[key_id]], len(self.bigram_keys)
        )

        # Token hashes (seeded, so the same index gives the same hashes) for sentence bags and n-grams.
        rng = np.random.default_rng(0x5EED)
        self.token_hash = rng.integers(1, 2**63, size=n_vocab, dtype=np.int64).astype(np.uint64)
        self.token_hash[BOUNDARY_ID] = np.uint64(0x9E3779B97F4A7C15)
        self.unknown_hash = np.uint64(rng.integers(1, 2**63, dtype=np.int64))
        # The same with every number one token, for the n-grams of masked benchmarks; an unknown prompt word
        # stands for a number there (numbers change, words around them stay).
        self.masked_hash = self.token_hash.copy()
        self.masked_hash[self.is_number] = NUMBER_HASH
        # Bag of words (order-free sum of hashes) of every one-sentence question.
        is_marker = ids == BOUNDARY_ID
        inner_markers = np.add.reduceat(is_marker.astype(np.int64), offsets[:-1]) - 2
        bag = np.add.reduceat(np.where(is_marker, np.uint64(0), self.token_hash[ids]), offsets[:-1])
        single = np.flatnonzero(inner_markers == 0)
        order = np.argsort(bag[single], kind="stable")
        self.bag_hashes = bag[single][order]
        self.bag_questions = single[order].astype(np.int64)

        # Exact text -> first question with that text.
        first_q: dict[str, int] = {}
        for q, text in enumerate(self.questions):
            first_q.setdefault(text, q)
        exact_texts = sorted(first_q)
        self.exact_values = pa.array(exact_texts, pa.string())
        self.exact_question = np.array([first_q[t] for t in exact_texts], dtype=np.int64)
        self._ngrams: dict[int, NgramTable] = {}

    def ngrams(self, n: int) -> NgramTable:
        """Word n-grams of every question (a question shorter than ``n`` tokens is one gram)."""
        if n not in self._ngrams:
            self._ngrams[n] = NgramTable.build(self, n)
        return self._ngrams[n]


@dataclass(frozen=True)
class NgramTable:
    """The distinct n-grams of every question, as sorted keys that mix the gram's hash with the question
    (``keys``), and the number of distinct grams of each question (``count``)."""

    n: int
    keys: np.ndarray
    count: np.ndarray

    @staticmethod
    def key(gram_hash: np.ndarray, question: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return gram_hash ^ (question.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93))

    @classmethod
    def build(cls, index: DecontaminationIndex, n: int) -> NgramTable:
        keys, count = [], []
        for q in range(index.num_questions):
            toks = index.question_tokens(q)
            table = index.masked_hash if index.masks_numbers[q] else index.token_hash
            grams = np.unique(rolling_hash(table[toks], min(n, len(toks))))
            keys.append(cls.key(grams, np.full(len(grams), q)))
            count.append(len(grams))
        return cls(n=n, keys=np.sort(np.concatenate(keys)), count=np.array(count, dtype=np.float64))
