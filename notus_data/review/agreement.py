"""How much reviewers agree: per question, over the items that two or more reviewers answered.

An *item* is one thing a question asks about (a completion's verdict, its corrected score, a prompt's ranking);
``answers`` maps each item to ``{reviewer: value}``. :func:`agreement` gives

- ``items``: items answered by two or more reviewers (the only ones that can show agreement);
- ``share_agreeing``: the share of those where every reviewer gave the same value;
- ``krippendorff_alpha``: Krippendorff's alpha (nominal or interval metric), any number of reviewers, missing
  answers allowed; 1 = perfect agreement, 0 = what chance gives, None when every value is the same (undefined);
- ``cohen_kappa``: Cohen's kappa, only when exactly two reviewers answered the question (None otherwise or when
  chance agreement is 1).

>>> a = {"x": {"ann1": "confirm", "ann2": "confirm"}, "y": {"ann1": "correct", "ann2": "discard"},
...      "z": {"ann1": "confirm", "ann2": "confirm"}, "w": {"ann1": "correct"}}
>>> r = agreement(a)
>>> r["items"], r["share_agreeing"], r["cohen_kappa"], r["krippendorff_alpha"]
(3, 0.6667, 0.4, 0.4444)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import Any

import numpy as np


def _alpha(units: list[list[Any]], metric: str) -> float | None:
    values = sorted({v for unit in units for v in unit}, key=repr)
    if len(values) < 2:
        return None
    at = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in units:
        counts = np.bincount([at[v] for v in unit], minlength=len(values)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(unit) - 1)
    if metric == "interval":
        numbers = np.array(values, dtype=float)
        delta = (numbers[:, None] - numbers[None, :]) ** 2
    else:
        delta = 1.0 - np.eye(len(values))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    expected = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    if expected == 0:
        return None
    observed = (coincidence * delta).sum() / n
    return float(1.0 - observed / expected)


def _kappa(pairs: list[tuple[Any, Any]]) -> float | None:
    observed = sum(a == b for a, b in pairs) / len(pairs)
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[v] * second[v] for v in first) / len(pairs) ** 2
    if chance >= 1:
        return None
    return float((observed - chance) / (1 - chance))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def agreement(answers: dict[Hashable, dict[str, Any]], metric: str = "nominal") -> dict[str, Any]:
    """Agreement figures for one question (see the module doc); ``metric``: ``nominal`` or ``interval``."""
    units = {item: by for item, by in answers.items() if len(by) >= 2}
    reviewers = sorted({user for by in answers.values() for user in by})
    out: dict[str, Any] = {
        "items": len(units),
        "reviewers": len(reviewers),
        "share_agreeing": None,
        "krippendorff_alpha": None,
        "cohen_kappa": None,
    }
    if not units:
        return out
    same = sum(len(set(map(repr, by.values()))) == 1 for by in units.values())
    out["share_agreeing"] = _round(same / len(units))
    out["krippendorff_alpha"] = _round(_alpha([list(by.values()) for by in units.values()], metric))
    if len(reviewers) == 2:
        one, two = reviewers
        out["cohen_kappa"] = _round(_kappa([(by[one], by[two]) for by in units.values()]))
    return out
