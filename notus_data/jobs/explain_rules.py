"""Which draw rule a published set followed: (a) the rejected drawn only among the strictly lower completions, or
(b) drawn among all the others, the pair dropped when the draw ties the chosen.

The seed of a published set is unknown, so its draws cannot be redone; the test reads the tie structure of our
input instead. Each prompt that reached our binarizer falls in one class, by our scores:

- ``no_lower``: no completion scores below the top. Both rules drop it.
- ``no_tie``: a lower completion, and no other completion ties the top. Neither rule drops it: the share of these
  prompts missing from PUBLISHED is the *background* loss ``q`` (filters unrelated to the draw).
- ``tie_partner``: a lower completion, and ``t`` of the ``k`` other completions tie the top. Rule (a) never drops
  it (missing with probability ``q``); rule (b) drops it when its draw ties: missing with probability
  ``1 - (1 - q)(1 - t/k)``.

The test compares how likely the presence or absence of every ``tie_partner`` prompt is under each rule: the
log-likelihood ratio ``ln L(b) - ln L(a)``; beyond ``ln 100`` either way (odds of 100 to 1) it names the rule,
else it is ``undecided``. A published set that keeps pairs whose rejected ties the chosen (1% of its pairs or
more) followed ``neither`` (ties kept, as the zephyr rule). Left out of the test: prompts with several copies in
our input, prompts of a source PUBLISHED has none of, and rows our steps removed before binarizing.

Rows each rule explains: (a) explains the ``no_lower`` prompts missing and the others present; (b) also explains
the ``tie_partner`` prompts missing; neither explains a ``no_tie`` prompt missing or a ``no_lower`` one present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.jobs.explain_match import absent_sources, column_numpy

CLASSES = ("no_lower", "no_tie", "tie_partner")
CLASS_TEXT = {
    "no_lower": "no lower completion (both rules drop)",
    "no_tie": "a lower one, no tie for the top (neither drops)",
    "tie_partner": "a lower one and a tie partner ((b) drops at random)",
}
DECISIVE = math.log(100)
TIES_KEPT = 0.01


@dataclass
class RuleTest:
    """The counts of the test (see the module docstring) and its verdict: ``a``, ``b``, ``undecided`` or
    ``neither``."""

    classes: dict[str, dict[str, float]]
    background: float
    log_likelihood_ratio: float
    published_pairs: int
    published_ties: int
    explained: dict[str, int]
    left_out: dict[str, int] = field(default_factory=dict)
    verdict: str = "undecided"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "log_likelihood_ratio_b_over_a": round(self.log_likelihood_ratio, 3),
            "background_loss": round(self.background, 6),
            "classes": {
                k: {n: round(v, 3) if isinstance(v, float) else v for n, v in c.items()}
                for k, c in self.classes.items()
            },  # fmt: skip
            "published_pairs": self.published_pairs,
            "published_ties": self.published_ties,
            "explained": dict(self.explained),
            "left_out": dict(self.left_out),
        }

    def sentence(self) -> str:
        c = self.classes["tie_partner"]
        if self.verdict == "neither":
            return (
                f"neither rule: {self.published_ties:,} of {self.published_pairs:,} published pairs have a rejected "
                "scoring the same as the chosen; (a) and (b) never keep such a pair (ties kept, as zephyr)"
            )
        what = {"a": "rule (a), strictly lower only", "b": "rule (b), drawn ties dropped"}.get(
            self.verdict, "undecided"
        )
        return (
            f"{what}: PUBLISHED lacks {c['missing']:,} of the {c['rows']:,} prompts whose chosen has a tie partner; "
            f"(a) expects {c['expected_a']:.1f}, (b) {c['expected_b']:.1f} (background loss {self.background:.2%}); "
            f"log-likelihood ratio {self.log_likelihood_ratio:+.1f} for (b). Rows explained: (a) "
            f"{self.explained['a']:,}, (b) {self.explained['b']:,}, by neither {self.explained['neither']:,}"
        )


def published_ties(attribution: pa.Table) -> tuple[int, int]:
    """(published pairs, those whose rejected scores the same as the chosen): by the set's own scores, else by
    ours of the two responses where we found them."""
    rows = attribution.filter(
        pc.and_(pc.is_valid(attribution["published_row"]), pc.is_null(attribution["problem"]))
    )
    own_c, own_r = (
        column_numpy(rows, "published_chosen_score", np.nan),
        column_numpy(rows, "published_rejected_score", np.nan),
    )
    our_c, our_r = (
        column_numpy(rows, "published_chosen_our_score", np.nan),
        column_numpy(rows, "published_rejected_our_score", np.nan),
    )
    own = ~np.isnan(own_c) & ~np.isnan(own_r)
    tie = np.where(own, own_c == own_r, ~np.isnan(our_c) & (our_c == our_r))
    return rows.num_rows, int(tie.sum())


def rule_test(trace: pa.Table, published: pa.Table, attribution: pa.Table) -> RuleTest:
    """The test on the trace of our input and the side table of PUBLISHED (see the module docstring)."""
    readable = published.filter(pc.is_null(published["problem"]))
    p_keys = np.unique(column_numpy(readable, "key", 0))
    keys = column_numpy(trace, "key", 0)
    others = column_numpy(trace, "others", -1)
    ties = column_numpy(trace, "tie_partners", 0)
    scored = (others >= 1) & (np.asarray(trace.column("reason").to_pylist(), dtype=object) != "invalid_row")
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    single = counts[inverse] == 1
    absent = absent_sources(trace, published)
    sources = np.asarray(trace.column("source").to_pylist(), dtype=object)
    lost = np.isin(sources, absent) if len(absent) else np.zeros(len(keys), bool)
    used = scored & single & ~lost
    present = np.isin(keys, p_keys)
    kind = {
        "no_lower": used & (ties == others),
        "no_tie": used & (ties == 0),
        "tie_partner": used & (ties > 0) & (ties < others),
    }
    n = {k: int(m.sum()) for k, m in kind.items()}
    missing = {k: int((m & ~present).sum()) for k, m in kind.items()}
    q = (missing["no_tie"] + 0.5) / (n["no_tie"] + 1)
    c = kind["tie_partner"]
    drop = 1 - (1 - q) * (1 - ties[c] / np.maximum(others[c], 1))
    gone = ~present[c]
    ll_a = missing["tie_partner"] * math.log(q) + (n["tie_partner"] - missing["tie_partner"]) * math.log(
        1 - q
    )
    ll_b = float(np.log(np.where(gone, drop, 1 - drop)).sum())
    classes = {
        k: {
            "rows": n[k],
            "in_published": n[k] - missing[k],
            "missing": missing[k],
            "expected_a": float(n[k]) if k == "no_lower" else q * n[k],
            "expected_b": float(n[k])
            if k == "no_lower"
            else (float(drop.sum()) if k == "tie_partner" else q * n[k]),
        }
        for k in CLASSES
    }
    explained_a = (
        missing["no_lower"] + (n["no_tie"] - missing["no_tie"]) + (n["tie_partner"] - missing["tie_partner"])
    )
    pairs, tied = published_ties(attribution)
    result = RuleTest(
        classes=classes,
        background=q,
        log_likelihood_ratio=ll_b - ll_a,
        published_pairs=pairs,
        published_ties=tied,
        explained={
            "a": explained_a,
            "b": explained_a + missing["tie_partner"],
            "neither": missing["no_tie"] + (n["no_lower"] - missing["no_lower"]),
        },
        left_out={
            "not_scored": int((~scored).sum()),
            "duplicate_prompt": int((scored & ~single).sum()),
            "source_absent": int((scored & single & lost).sum()),
        },
    )
    if tied and tied >= TIES_KEPT * pairs:
        result.verdict = "neither"
    elif result.log_likelihood_ratio >= DECISIVE:
        result.verdict = "b"
    elif result.log_likelihood_ratio <= -DECISIVE:
        result.verdict = "a"
    return result


def render_rule_test(test: RuleTest, console: Any) -> None:
    from rich.table import Table

    table = Table(
        title="which draw rule: (a) strictly lower only, (b) drawn ties dropped", header_style="bold"
    )
    for name in ("prompts of our input", "rows", "in PUBLISHED", "missing", "expected missing (a)", "(b)"):
        table.add_column(name, justify="left" if name.startswith("prompts") else "right")
    for k in CLASSES:
        c = test.classes[k]
        table.add_row(CLASS_TEXT[k], f"{c['rows']:,}", f"{c['in_published']:,}", f"{c['missing']:,}",
                      f"{c['expected_a']:.1f}", f"{c['expected_b']:.1f}")  # fmt: skip
    console.print(table)
    left = ", ".join(f"{k} {v:,}" for k, v in test.left_out.items() if v)
    console.print(f"[bold]{test.sentence()}[/bold]" + (f"\nleft out of the test: {left}" if left else ""))
