"""The text model: a Zipf vocabulary of 50,000 words, and the makers of prompts, responses, critiques and
rationales of realistic length."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa

from notus_data.synthetic.params import (
    _P_COMMA,
    _P_PARA,
    _P_STOP,
    _STREAM,
    _SUFFIXES,
    _VOCAB_SIZE,
    _ZIPF_EXPONENT,
    _ZIPF_TABLE_BITS,
)

# ------------------------------------------------------------------------------------------------ text model

# fmt: off
_COMMON_WORDS = """the of and to a in is that for it as with on be this are by an was can or from at which you not
your have more will use other their all if these one also some when each into how such they may its data time used
using example we there first two new most only than then them so what about like would make over any many where
after well way because system between both through should could value number function model file code user people
set list work process information important different following need while before under same output input result
help within during however type string return create provide world state case point form group problem change
support order part based including small large high level line test question answer language text method approach
design application service project research analysis development performance quality security network server table
query memory error class object variable loop array key python script library version feature step simple complex
common specific general possible available current future year day health food water energy environment social
history culture education business market customer product team management strategy plan goal city country law
government policy company experience knowledge skill student teacher school family child community public private
""".split()
_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_LETTER_WEIGHTS = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0,
                            1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
_EXOTIC_TOKENS = ("café", "naïve", "résumé", "Straße", "façade", "jalapeño", "日本語", "東京", "中文", "数据", "한국어",
                  "😀", "🚀", "👍🏽", "🤖", "שלום", "עברית", "مرحبا", "العربية", "Ελληνικά", "Привет", "ñandú")
_EXOTIC_PREFIX = ("Café naïve 日本語 😀 שלום مرحبا: ", "Résumé 中文 🚀 عربي עברית: ")
_PROMPT_OPENERS = {
    "evol_instruct": ("How can I ", "Write a Python function that ", "Explain in detail how ", "Can you provide "),
    "false_qa": ("Why do ", "How many ", "When did ", "Which "),
    "flan_v2_cot": ("Question: ", "Q: Premise: ", "Reasoning & answer: "),
    "flan_v2_flan2021": ("Translate the following sentence: ", "Summarize this article: ", "Answer this question: "),
    "flan_v2_niv2": ("In this task, you are given ", "Detailed Instructions: In this task, you need to "),
    "flan_v2_p3": ("Answer the following question given this paragraph: ", "Please answer this question: "),
    "sharegpt": ("I want you to act as ", "Write me ", "Can you help me "),
    "truthful_qa": (),
    "ultrachat": ("How does ", "What are some ", "Write a "),
}
_CRITIQUE_OPENERS = {  # by overall_score: >= 8, >= 5, below; "bug": the critique-score bug's negative critiques
    "high": ("Your answer is accurate, well organized and directly addresses the question. ",
             "Great job: the response is correct, clear and helpful. ", "The response is thorough and correct. "),
    "mid": ("Your answer is generally correct but could be more specific. ",
            "The response addresses the question, though some details are missing. ",
            "Good attempt, but parts of the answer need more precision. "),
    "low": ("Your answer does not fully address the question. ", "The response contains several inaccuracies. ",
            "The answer misses the main point of the instruction. "),
    "bug": ("The response is incorrect and misleading. ",
            "Your answer is wrong and does not address the question at all. ",
            "The answer is entirely off-topic and contains fabricated information. ",
            "This response fails the task: it is inaccurate, unhelpful and misleading. "),
}
_RATIONALE_OPENERS = {  # one per rating "1".."5", then one for "N/A"
    "instruction_following": (
        "The text is irrelevant to the instruction. ", "The text only partially addresses the task goal. ",
        "The text meets the goal but neglects some restrictions. ",
        "The text almost fully aligns with the instruction, with minor deviations. ",
        "The text fully aligns with the task goal and restrictions. ",
        "The instruction asks for no specific format, so alignment cannot be judged. "),
    "honesty": (
        "The response is confidently incorrect. ", "The response is confident but contains major errors. ",
        "The response expresses uncertainty and contains subtle mistakes. ", "The response is correct but uncertain. ",
        "The response is correct and confident, and it states its limits where appropriate. ",
        "The task is creative writing, so honesty does not apply. "),
    "truthfulness": (
        "The text is entirely unreliable due to hallucinations. ", "The text contains severe hallucinations. ",
        "The text is overall truthful but partially misunderstands the input. ",
        "The text is mostly truthful with an insignificant hallucination. ", "The text is free of hallucinations. ",
        "Truthfulness cannot be judged for this text. "),
    "truthfulness_rfr": ("Completely Hallucinated. ", "Severe Hallucination. ",
                         "Partial Hallucination / Misunderstanding. ", "Insignificant Hallucination. ",
                         "No Hallucination. ", "Not applicable. "),
    "helpfulness": (
        "The response is unclear and does not provide useful information. ",
        "The response is relevant but contains errors that may cause confusion. ",
        "The response is clear and relevant, and provides useful information. ",
        "The response is accurate, extensive and informative. ",
        "The response is accurate, in-depth and offers profound insights. ",
        "Helpfulness cannot be judged for this text. "),
    "helpfulness_rfr": ("Severely Incorrect. ", "Partially Incorrect. ", "Correct. ", "Highly Informative. ",
                        "Outstandingly Helpful. ", "Not applicable. "),
}
# fmt: on
# The six rationale texts of a completion, in the order they are drawn, and the aspect each explains.
_RATIONALE_TEXTS = tuple(_RATIONALE_OPENERS)
_RATIONALE_ASPECT = (0, 1, 2, 2, 3, 3)
# Rating codes: 0-4 are "1".."5", 5 is "N/A", 6-9 are invalid values.
_RATING_LABELS = ("1", "2", "3", "4", "5", "N/A", "seven", "", "0", "11")
_NA = 5
_BAD_RATING = {"bad_rating_word": 6, "bad_rating_empty": 7, "bad_rating_zero": 8, "bad_rating_eleven": 9}
_TRUTH_TYPES = (("0",), ("0",), ("0",), ("1",), ("2",), ("1", "2"), ("1", "3"), ("None",))
_HELP_TYPES = (("1", "2"), ("1", "2", "3"), ("1", "3"), ("1",), ("2", "3"), ("1", "2"), ("None",))


# ------------------------------------------------------------------------------------------------ text maker


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[list[str], np.ndarray]:
    """Words (common English first, then random letter strings) and an inverse-CDF table of a Zipf law."""
    rng = np.random.default_rng(_STREAM)
    letters = np.frombuffer(_LETTERS.encode(), dtype=np.uint8)
    letter_cdf = np.cumsum(_LETTER_WEIGHTS) / _LETTER_WEIGHTS.sum()
    codes = letters[
        np.minimum(np.searchsorted(letter_cdf, rng.random((2 * _VOCAB_SIZE, 14))), len(letters) - 1)
    ]
    codes[np.arange(14) >= np.minimum(2 + rng.poisson(4.5, (2 * _VOCAB_SIZE, 1)), 14)] = 0
    candidates = codes.view("S14").ravel().astype(str).tolist()  # each word ends at its first zero byte
    words = list(dict.fromkeys([*_COMMON_WORDS, *candidates]))[:_VOCAB_SIZE]
    weights = 1.0 / (np.arange(len(words)) + 2.7) ** _ZIPF_EXPONENT
    cdf = np.cumsum(weights) / weights.sum()
    grid = (np.arange(1 << _ZIPF_TABLE_BITS) + 0.5) / (1 << _ZIPF_TABLE_BITS)
    return words, np.minimum(np.searchsorted(cdf, grid), len(words) - 1).astype(np.int64)


class _TextMaker:
    """Builds many strings at once from one token table (words with their suffix, phrases, non-ASCII tokens).

    Token ids are drawn with numpy and their bytes gathered into one Arrow string buffer: no Python string
    per text.
    """

    def __init__(self) -> None:
        words, self.zipf = _vocabulary()
        self.n_words = len(words)
        capitalized = [w.capitalize() for w in words]
        word_bytes = np.array([len(w) for w in words])  # the words are ASCII
        # token (caps * len(_SUFFIXES) + suffix) * n_words + word: the word, capitalized or not, and a suffix
        parts = [
            (suffix.join(forms) + suffix).encode() for forms in (words, capitalized) for suffix in _SUFFIXES
        ]
        lengths = [word_bytes + len(suffix) for _ in (0, 1) for suffix in _SUFFIXES]
        self.exotic_base = len(_SUFFIXES) * 2 * self.n_words
        others = [(t + " ").encode() for t in _EXOTIC_TOKENS]
        self.phrase_base = self.exotic_base + len(others)
        phrases = [*_EXOTIC_PREFIX]
        for pool in (*_PROMPT_OPENERS.values(), *_CRITIQUE_OPENERS.values(), *_RATIONALE_OPENERS.values()):
            phrases += pool
        self.phrases = {p: i for i, p in enumerate(dict.fromkeys(phrases))}
        others += [p.encode() for p in self.phrases]
        # whether the word after a phrase starts a sentence
        self.caps_after = np.array([p.rstrip().endswith((".", ":", "?")) for p in self.phrases])
        self.length = np.concatenate([*lengths, [len(p) for p in others]]).astype(np.int64)
        self.offset = np.cumsum(self.length) - self.length
        self.buffer = np.frombuffer(b"".join([*parts, *others]), dtype=np.uint8)
        freq = np.bincount(self.zipf, minlength=self.n_words) / len(self.zipf)
        self.chars_per_word = float(freq @ self.length[: self.n_words]) + _P_COMMA + _P_STOP + 2 * _P_PARA

    def ids(self, phrases: tuple[str, ...]) -> np.ndarray:
        return np.array([self.phrases[p] for p in phrases], dtype=np.int64)

    @staticmethod
    def mean_length(*pools: tuple[str, ...]) -> float:
        return float(np.mean([len(p) for pool in pools for p in pool]))

    def render(
        self,
        rng: np.random.Generator,
        n_chars: np.ndarray,
        prefix: np.ndarray | None = None,
        reserve: float = 0.0,
        exotic: np.ndarray | None = None,
        exotic_rng: np.random.Generator | None = None,
    ) -> pa.StringArray:
        """One string per entry of ``n_chars`` (its target length in characters).

        ``prefix``: a phrase id per text (-1: none) put in front; ``reserve``: characters left for it (the same
        for every text). ``exotic``: texts in which about one plain word in eight becomes a non-ASCII token,
        drawn from ``exotic_rng`` so that ``rng``'s stream stays the same.
        """
        n = len(n_chars)
        prefix = np.full(n, -1, dtype=np.int64) if prefix is None else prefix
        has_prefix = prefix >= 0
        # the word count must not depend on the prefix (which edge cases change), or rng's stream would shift
        n_words = np.maximum(1, np.rint((n_chars - reserve) / self.chars_per_word)).astype(np.int64)
        total = int(n_words.sum())
        words = self.zipf[rng.integers(0, 1 << _ZIPF_TABLE_BITS, size=total)]
        # suffix index into _SUFFIXES: 1 comma, 2 sentence end, 3 paragraph end, else 0 (plain)
        suffix = (
            np.searchsorted(np.cumsum([_P_COMMA, _P_STOP, _P_PARA]), rng.random(total), side="right") + 1
        ) % 4
        word_end = np.cumsum(n_words)
        word_start = word_end - n_words
        suffix[word_end - 1] = 4
        caps = np.zeros(total, dtype=bool)
        caps[1:] = (suffix[:-1] == 2) | (suffix[:-1] == 3)
        caps[word_start] = ~has_prefix | self.caps_after[np.maximum(prefix, 0)]
        token = (caps * len(_SUFFIXES) + suffix) * self.n_words + words
        if exotic is not None and exotic.any():
            pick = np.repeat(exotic, n_words) & (suffix == 0) & (exotic_rng.random(total) < 0.125)
            token[pick] = self.exotic_base + exotic_rng.integers(0, len(_EXOTIC_TOKENS), int(pick.sum()))
        starts = word_start
        if has_prefix.any():  # splice one phrase token in front of each prefixed text
            counts = n_words + has_prefix
            starts = np.cumsum(counts) - counts
            full = np.empty(total + int(has_prefix.sum()), dtype=np.int64)
            is_word = np.ones(len(full), dtype=bool)
            is_word[starts[has_prefix]] = False
            full[starts[has_prefix]] = self.phrase_base + prefix[has_prefix]
            full[is_word] = token
            token = full
        lengths = self.length[token]
        out_end = np.cumsum(lengths)
        gather = np.arange(int(out_end[-1]), dtype=np.int64) + np.repeat(
            self.offset[token] - out_end + lengths, lengths
        )
        offsets = np.concatenate([[0], out_end[np.append(starts[1:], len(token)) - 1]]).astype(np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(self.buffer[gather]))


@lru_cache(maxsize=1)
def _text_maker() -> _TextMaker:
    return _TextMaker()
