"""The benchmarks notus-data knows by name: where each lives on the Hub, its presets, and how it is matched.

Each known benchmark loads from the Hub copy that the evaluation tools use (lm-eval, FastChat, AlpacaEval,
lighteval), through ``datasets``; offline, from a local file (``--benchmark-file NAME=PATH``) or, for the sets
whose license allows redistribution, from the copy bundled with the package (``--bundled``).

Bundled: truthfulqa (Apache-2.0), mt_bench (Apache-2.0), arena_hard (Apache-2.0), ifeval (Apache-2.0), gsm8k
(MIT), humaneval (MIT). Not bundled: alpaca_eval, whose data is CC BY-NC 4.0: shipping it inside an
Apache-2.0 package would hand a non-commercial restriction to every user of the wheel without their choosing it;
it loads from the Hub (``tatsu-lab/alpaca_eval``) or a file the user provides.

Matching fits the text (the thresholds below are the defaults of ``DecontaminateOptions``; each can be set per
benchmark with ``--threshold NAME.METHOD=VALUE``):

* short questions (truthfulqa, mt_bench, alpaca_eval): n-gram coverage 0.8 and near-duplicate 0.8, tuned on
  TruthfulQA variants; the meaning veto (a changed number, year or key noun) guards them;
* long prompts that a text may quote only in part (arena_hard's code dumps, ifeval's instructions, humaneval's
  docstrings with their doctests): coverage 0.5, since half of a long question's 8-grams found in one stretch is
  already far beyond chance (no clean prompt of the planted benchmark reaches 0.2);
* the meaning veto guards every set but gsm8k and humaneval: a word problem or a function with one word or
  identifier changed is still that problem, not another question;
* gsm8k: numbers do not count (a word problem with its numbers changed is still the problem's text, so it is
  contamination; see docs/decontamination.md), coverage 0.6 and near-duplicate 0.75 over the masked text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a known benchmark's questions live, and the UltraFeedback sources taken from it.

    ``column`` holds the question (a list column: every item is a turn, each indexed); ``turns`` an extra list
    column of later turns (the offline MT-Bench copies); ``id_column`` the question id (None: the position).
    """

    name: str
    hub_id: str
    configs: tuple[str | None, ...]
    split: str
    column: str
    id_column: str | None = None
    data_files: str | None = None
    sources: tuple[str, ...] = ()
    bundled: bool = True
    license: str = ""
    ngram_threshold: float = 0.8
    near_duplicate_threshold: float = 0.8
    mask_numbers: bool = False
    veto: bool = True


KNOWN_BENCHMARKS: dict[str, BenchmarkSpec] = {
    "truthfulqa": BenchmarkSpec(
        "truthfulqa", "truthfulqa/truthful_qa", ("generation", "multiple_choice"), "validation", "question",
        sources=("truthful_qa",), license="Apache-2.0",
    ),
    "mt_bench": BenchmarkSpec(
        "mt_bench", "lighteval/mt-bench", (None,), "train", "turns", id_column="question_id",
        license="Apache-2.0",
    ),
    "arena_hard": BenchmarkSpec(
        "arena_hard", "lmarena-ai/arena-hard-auto", (None,), "train", "prompt", id_column="uid",
        data_files="data/arena-hard-v0.1/question.jsonl", license="Apache-2.0", ngram_threshold=0.5,
    ),
    "alpaca_eval": BenchmarkSpec(
        "alpaca_eval", "tatsu-lab/alpaca_eval", (None,), "train", "instruction",
        data_files="alpaca_eval.json", bundled=False, license="CC BY-NC 4.0",
    ),
    "ifeval": BenchmarkSpec(
        "ifeval", "google/IFEval", (None,), "train", "prompt", id_column="key", license="Apache-2.0",
        ngram_threshold=0.5,
    ),
    "gsm8k": BenchmarkSpec(
        "gsm8k", "openai/gsm8k", ("main",), "test", "question", license="MIT", ngram_threshold=0.6,
        near_duplicate_threshold=0.75, mask_numbers=True, veto=False,
    ),
    "humaneval": BenchmarkSpec(
        "humaneval", "openai/openai_humaneval", (None,), "test", "prompt", id_column="task_id",
        license="MIT", ngram_threshold=0.5, veto=False,
    ),
}  # fmt: skip

PRESETS: dict[str, tuple[str, ...]] = {
    "chat": ("truthfulqa", "mt_bench", "alpaca_eval", "arena_hard", "ifeval"),
    "all": tuple(KNOWN_BENCHMARKS),
}
"""Names that stand for several benchmarks: ``chat`` = the sets chat DPO models report; ``all`` = every one."""

#: Default thresholds of a benchmark that is not known by name (a Hub id or a file of one's own).
DEFAULT_THRESHOLDS = {"ngram": 0.8, "near_duplicate": 0.8}


def expand_presets(names: tuple[str, ...]) -> tuple[str, ...]:
    """``("chat", "gsm8k")`` -> the benchmarks of the preset, then gsm8k; repeats once, in order."""
    out: list[str] = []
    for name in names:
        for item in PRESETS.get(name, (name,)):
            if item not in out:
                out.append(item)
    return tuple(out)


def default_threshold(benchmark: str, method: str) -> float:
    """The default threshold of ``method`` (``ngram`` or ``near_duplicate``) for ``benchmark``."""
    spec = KNOWN_BENCHMARKS.get(benchmark)
    if spec is None:
        return DEFAULT_THRESHOLDS[method]
    return spec.ngram_threshold if method == "ngram" else spec.near_duplicate_threshold


_DEF_NAME = re.compile(r"\bdef\s+\w+\s*\(")
_DOCTEST = re.compile(r"^[ \t]*>>>.*\n(?:[ \t]*(?!>>>)\S.*\n)*", re.M)


def matching_forms(benchmark: str, question: str) -> list[str]:
    """The texts a question is matched by: the question itself, and for code (``humaneval``) also without its
    doctest examples (``>>>`` lines and the outputs under them), so that a prompt quoting the signature and the
    docstring's words matches even with the function renamed (the name fills every example and is left out of
    the signature too) or the examples left out."""
    if benchmark != "humaneval":
        return [question]
    text = question if question.endswith("\n") else question + "\n"
    bare = _DEF_NAME.sub("def (", _DOCTEST.sub("", text)).strip()
    return [question] if bare == question.strip() else [question, bare]
