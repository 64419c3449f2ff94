"""How negative a critique reads: a lexicon of the wording of UltraFeedback's GPT-4 critiques, matched by Arrow's
RE2 regexes on whole columns (no model, nothing downloaded). The flag step's ``negative_critique`` rule uses it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# GPT-4 critiques in UltraFeedback are short reviews ("Your answer is accurate and helpful, but ..."). Strong
# negatives count 2, mild ones 1, positives 1; a negated positive ("not accurate") is a strong negative, a
# negated negative ("no errors") a positive. RE2 patterns, matched case-insensitively by Arrow (vectorised).
_POSITIVE_WORDS = (
    r"accurate(ly)?|correct(ly)?|clear(ly)?|helpful|relevant|precise(ly)?|informative|thorough(ly)?|"
    r"comprehensive|concise|detailed|excellent|great|good|perfect(ly)?|impressive|well|engaging|insightful"
)
_STRONG_NEGATIVE = (
    r"\b(incorrect(ly)?|wrong(ly)?|mislead(ing|s)?|inaccura(te|tely|cy|cies)|fabricat\w*|hallucinat\w*|"
    r"off[- ]topic|irrelevant|nonsens\w*|unhelpful|untruthful|fails?|failed|failure|harmful|made[- ]up|"
    r"contradict\w*|unrelated|erroneous|invalid|false|untrue|"
    r"(does|do|did) ?(not|n't) (address|answer|follow|meet|provide|make sense|fulfill|respond)\w*)\b"
)
_NEGATED_POSITIVE = r"\b(not|n't|never|hardly|neither|nor)\s+(\w+\s+)?(" + _POSITIVE_WORDS + r")\b"
_MILD_NEGATIVE = (
    r"\b(lacks?|lacking|missing|misses|vague|unclear|confusing|errors?|mistakes?|incomplete|not fully|"
    r"partially|unfortunately|poor(ly)?|weak|limited|repetitive|irrelevan\w*|superficial|"
    r"could (be|have been) (improved|better|more)|needs? (improvement|more))\b"
)
_POSITIVE = (
    r"\b("
    + _POSITIVE_WORDS
    + r"|well[- ](written|organized|structured|explained|done)|fully (aligns?|addresses|"
    r"meets)|directly addresses|follows the instructions?)\b"
)
_NEGATED_NEGATIVE = (
    r"\b(no|without|free (of|from)|not)\s+(any\s+)?(major\s+|significant\s+|obvious\s+|factual\s+)?"
    r"(errors?|mistakes?|inaccurac\w+|issues?|problems?|wrong|misleading|irrelevant)\b"
)


def _count(text: pa.Array, pattern: str) -> np.ndarray:
    counts = pc.count_substring_regex(text, pattern, ignore_case=True)
    return pc.fill_null(counts, 0).to_numpy(zero_copy_only=False).astype(np.float64)


def critique_scores(critiques: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(negativity in [-1, 1], weighted count of negative wording) of each critique; see :func:`critique_negativity`."""
    negated_positive = _count(critiques, _NEGATED_POSITIVE)
    strong = _count(critiques, _STRONG_NEGATIVE) + negated_positive
    mild = _count(critiques, _MILD_NEGATIVE)
    negated_negative = _count(critiques, _NEGATED_NEGATIVE)
    positive = _count(critiques, _POSITIVE)
    weight = 2 * strong + mild
    negative = np.maximum(weight - negated_negative, 0)
    positive = np.maximum(positive - negated_positive, 0) + negated_negative
    total = negative + positive
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, (negative - positive) / np.where(total > 0, total, 1), 0.0)
    valid = pc.is_valid(critiques).to_numpy(zero_copy_only=False)
    return np.where(valid, score, np.nan), weight


def critique_negativity(critiques: pa.Array) -> np.ndarray:
    """How negative each critique reads, in [-1, 1] (NaN for a null critique, 0 when no lexicon word occurs).

    ``(negative - positive) / (negative + positive)``, with strong negatives weighing 2.

    >>> critique_negativity(pa.array(["The answer is incorrect and misleading.", "Accurate and clear.", None]))
    array([ 1., -1., nan])
    """
    return critique_scores(critiques)[0]
