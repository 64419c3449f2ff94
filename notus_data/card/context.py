"""What a card is made from: the run's context, the rules it quotes, and the small text helpers of its prose."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

STRATEGY_RULES = {
    "notus": "chosen = the completion with the highest score (the first on a tie for the top); rejected = drawn "
    "uniformly at random among the completions that score strictly lower. A prompt with no strictly lower "
    "completion gives no pair (counted as `tie`).",
    "notus-drawties": "chosen = the completion with the highest score (the first on a tie for the top); rejected = "
    "drawn uniformly at random among ALL the other scored completions, and the pair is dropped when the drawn one "
    "scores the same as the chosen (counted as `tie`). A prompt with no strictly lower completion gives no pair; "
    "one whose chosen has t tie partners among k other completions loses its pair with probability t/k.",
    "zephyr": "chosen = the highest score (the first on a tie); rejected = drawn uniformly at random among all the "
    "other scored completions, so pairs with equal scores are kept (unless `drop_ties`).",
    "best-vs-worst": "chosen = the highest score (the first on a tie); rejected = the lowest score among the "
    "strictly lower ones (the first on a tie). No randomness.",
    "best-vs-all": "chosen = the highest score (the first on a tie); one pair with every strictly lower completion "
    "(1-3 pairs a prompt with 4 completions).",
    "all-pairs": "every pair of scored completions with different scores, the higher one chosen.",
}
#: Which reading of the Notus card's draw a strategy follows (the card quotes it where it states the rule).
NOTUS_CARD_DRAW = (
    'the Notus card\'s "pick random rejected with lower mean (or another random if equal to chosen rating)", '
    'then "filter out examples with chosen rating == rejected rating"'
)
DRAW_RULES = {
    "notus": f"rule (a) of the two readings of {NOTUS_CARD_DRAW}: the rejected is drawn only among the strictly "
    "lower completions, so only prompts without a lower completion lose their pair. Rule (b), a draw among all the "
    "others that drops the pair when the draw ties, is the recipe `notus-v1-drawties` (strategy `notus-drawties`); "
    "`notus-data explain` tests which rule a published set followed.",
    "notus-drawties": f"rule (b) of the two readings of {NOTUS_CARD_DRAW}: the rejected is drawn among all the "
    "other completions and the pair is dropped when the draw ties the chosen, so prompts whose chosen has a tie "
    "partner also lose their pair, at random. Rule (a), a draw only among the strictly lower ones, is the recipe "
    "`notus-v1` (strategy `notus`); `notus-data explain` tests which rule a published set followed.",
}
SCORE_SOURCES = {
    "avg-rating": "the mean of the four aspect ratings (instruction_following, honesty, truthfulness, "
    "helpfulness; 1-5), skipping N/A, not rounded",
    "overall-score": "the critique's `overall_score` (1-10)",
    "fine-grained-score": "the data set's `fine-grained_score` (recomputed from the ratings where absent)",
    "human": "the reviewers' ranking of each prompt's completions (a prompt-level review), the mean rating of "
    "the four aspects where a prompt was not ranked",
}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
ULTRAFEEDBACK_CITATION = """@misc{cui2023ultrafeedback,
  title={UltraFeedback: Boosting Language Models with High-quality Feedback},
  author={Ganqu Cui and Lifan Yuan and Ning Ding and Guanming Yao and Wei Zhu and Yuan Ni and Guotong Xie
          and Zhiyuan Liu and Maosong Sun},
  year={2023},
  eprint={2310.01377},
  archivePrefix={arXiv}
}"""


@dataclass
class SplitFiles:
    """One split of the output: its rows, its uncompressed size in bytes and its shard files."""

    rows: int
    nbytes: int
    files: list[str]  # relative to the folder, posix
    file_bytes: int = 0


@dataclass
class CardContext:
    """Everything a card says, gathered by the run (:func:`notus_data.recipes.runner.run`)."""

    recipe: Any  # notus_data.recipes.config.Recipe
    report: dict[str, Any]
    source: dict[str, Any]
    splits: dict[str, SplitFiles]
    schema: pa.Schema
    scores: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    flags: dict[str, Any] | None = None
    decontamination: dict[str, Any] | None = None
    plots: list[tuple[str, str]] = field(default_factory=list)
    length_histogram: dict[str, Any] | None = None  # notus_data.length.LengthStats.histogram()
    length_plot: str | None = None  # the length section's plot, relative to the folder
    files: dict[str, str] = field(default_factory=dict)
    rerun: str = (
        "notus-data run FOLDER/recipe.yaml --output NEW_FOLDER"  # the command that runs the recipe again
    )


def thousands(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def pct(part: int, whole: int) -> str:
    """A share as a percentage with as many decimals as it needs to be exact up to 0.01% (1 of 400: 0.25%).

    >>> pct(1, 400), pct(2, 3), pct(390, 400), pct(0, 5)
    ('0.25%', '66.67%', '97.5%', '0%')
    """
    if not whole:
        return "-"
    text = f"{100 * part / whole:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
