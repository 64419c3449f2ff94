"""Readable text for synthetic rows: real prompts and responses, and critiques and rationales written to agree
(or, where a row is planted to, disagree) with the ratings.

:func:`readable` takes rows made by :func:`notus_data.synthetic.generate` (their structure, sources, models,
ratings, overall_scores and edge cases) and real binarized pairs (``{"prompt", "chosen", "rejected"}``, e.g. from
trl-lib/ultrafeedback_binarized, MIT) and rewrites the text of each row:

- the instruction is a real prompt (TruthfulQA rows keep their real question; the row with the question inside a
  longer text wraps it in a sentence; the non-ASCII row keeps its non-ASCII prefix);
- the completions, ranked by their mean rating, get the pair's chosen response (best), its rejected response
  (next), the chosen response cut off mid-way (an incomplete answer), and the chosen response of another prompt
  (an off-topic answer) - so a better rating goes with a better text, as in the real data; rows that ask a
  TruthfulQA question answer with its correct answer, a hedged correct one, then its incorrect answers;
- a critique is composed from sentences that match the completion's overall_score (the planted critique-score bug
  rows, overall_score 10 with low ratings, get a strongly negative critique, as the bug left them), and each
  aspect's rationale matches its rating.

Nulls, identical responses and every other planted case stay as they were. Deterministic in (seed, row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from notus_data.synthetic.schema import TRUTHFULQA_QUESTIONS

ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
_CRITIQUE = {
    "high": (
        (
            "Your answer is accurate and directly addresses the question.",
            "The response is correct, clear and well organized.",
            "Great job: the answer is helpful and easy to follow.",
        ),
        (
            "The steps are in a sensible order and nothing important is missing.",
            "You explain the reasoning behind each point, which makes it convincing.",
            "The level of detail fits the question well.",
        ),
        (
            "A short example would make it even better.",
            "You could trim the introduction a little.",
            "Consider adding a one-line summary at the end.",
        ),
    ),
    "mid": (
        (
            "Your answer is generally correct but could be more specific.",
            "The response addresses the question, though some details are missing.",
            "Good attempt, but parts of the answer need more precision.",
        ),
        (
            "Some statements are vague, and one step is only hinted at.",
            "The answer is a little repetitive in the middle.",
            "It leaves out a case the question asks about.",
        ),
        (
            "Try to support your claims with a concrete example.",
            "Focus on the exact question before adding extras.",
            "Check the last paragraph for accuracy.",
        ),
    ),
    "low": (
        (
            "Your answer does not fully address the question.",
            "The response contains several inaccuracies.",
            "The answer misses the main point of the instruction.",
        ),
        (
            "It stops before the task is finished, and a key part is missing.",
            "Several claims are incorrect or unsupported.",
            "Much of the text is unrelated to what was asked.",
        ),
        (
            "Read the instruction again and answer it directly.",
            "Verify the facts before stating them.",
            "Keep to the topic of the question.",
        ),
    ),
    "bug": (
        (
            "The response is incorrect and misleading.",
            "Your answer is wrong and does not address the question at all.",
            "This response fails the task: it is inaccurate, unhelpful and misleading.",
        ),
        (
            "It contradicts itself and contains fabricated information.",
            "The content is irrelevant to the instruction and the facts are false.",
            "The answer is off-topic and the reasoning is invalid.",
        ),
        (
            "It should not be used as it stands.",
            "A correct answer would have to start over.",
            "It needs to be rewritten from scratch.",
        ),
    ),
}
_RATIONALE = {  # rating "1".."5"
    "instruction_following": (
        "The text is irrelevant to the instruction.",
        "The text addresses one part of the task and neglects the rest.",
        "The text meets the goal of the task but neglects some of its restrictions.",
        "The text almost fully aligns with the instruction, with minor deviations.",
        "The text fully aligns with the task goal and its restrictions.",
    ),
    "honesty": (
        "The response is confidently incorrect.",
        "The response is confident but contains major errors.",
        "The response is unsure and contains minor errors.",
        "The response is correct but expresses some uncertainty.",
        "The response is correct and confident, and states its limits where it should.",
    ),
    "truthfulness": (
        "The text is entirely unreliable: most of it is made up.",
        "The text contains severe factual errors and made-up details.",
        "The text is mostly truthful but misunderstands part of the input.",
        "The text is truthful apart from one insignificant slip.",
        "The text is free of factual errors.",
    ),
    "helpfulness": (
        "The response is unclear and gives no useful information.",
        "The response is relevant but its errors may confuse the reader.",
        "The response is correct and relevant, and gives useful information.",
        "The response is accurate and informative, with useful detail.",
        "The response is accurate and in depth, and goes beyond what was asked in a useful way.",
    ),
}
_RATIONALE_FOR_RATING = {
    "truthfulness": ("Completely Hallucinated", "Severe Hallucination", "Partial Hallucination / Misunderstanding",
                     "Insignificant Hallucination", "No Hallucination"),
    "helpfulness": ("Severely Incorrect", "Partially Incorrect", "Correct", "Highly Informative",
                    "Outstandingly Helpful"),
}  # fmt: skip
_NA_RATIONALE = "This aspect does not apply to the text."
_WRAPPERS = ("I was reading an article and it made me wonder about something. {q} Please explain it simply.",
             "My friend and I argued about this last night. {q} Who is right?")  # fmt: skip


def _mean(completion: dict[str, Any]) -> float:
    values = []
    for aspect in ASPECTS:
        node = (completion.get("annotations") or {}).get(aspect)
        node = node[0] if isinstance(node, list) and node else node
        rating = (node or {}).get("Rating") if isinstance(node, dict) else None
        if isinstance(rating, str) and rating.isdigit() and 1 <= int(rating) <= 5:
            values.append(int(rating))
    return float(np.mean(values)) if values else float("nan")


def critique(overall: float | None, mean: float, rng: np.random.Generator) -> str:
    """A critique that reads like GPT-4's for this overall_score (the bug's negative one for a 10 with low
    ratings)."""
    if overall is not None and overall >= 10 and not np.isnan(mean) and mean <= 4:
        kind = "bug"
    elif overall is None or overall >= 8:
        kind = "high"
    elif overall >= 5:
        kind = "mid"
    else:
        kind = "low"
    return " ".join(options[int(rng.integers(len(options)))] for options in _CRITIQUE[kind])


def _rationales(node: dict[str, Any], aspect: str) -> dict[str, Any]:
    rating = node.get("Rating")
    index = (
        int(rating) - 1 if isinstance(rating, str) and rating.isdigit() and 1 <= int(rating) <= 5 else None
    )
    out = dict(node)
    if "Rationale" in out and out["Rationale"] is not None:
        out["Rationale"] = _RATIONALE[aspect][index] if index is not None else _NA_RATIONALE
    if "Rationale For Rating" in out and out["Rationale For Rating"] is not None:
        out["Rationale For Rating"] = (
            _RATIONALE_FOR_RATING[aspect][index] if index is not None else "Not applicable"
        )
    return out


def _cut(text: str, rng: np.random.Generator) -> str:
    """The text cut off mid-way (an answer that stops before it is done)."""
    words = text.split(" ")
    keep = max(3, int(len(words) * rng.uniform(0.3, 0.55)))
    return " ".join(words[:keep]).rstrip(",;:") if len(words) > 6 else text


def readable(
    table: pa.Table, pairs: list[dict[str, Any]], *, seed: int, edge_rows: dict[str, list[int]]
) -> pa.Table:
    """The rows of ``table`` with readable text (see the module docstring); ``pairs`` need at least as many
    entries as the table has rows, ``edge_rows`` is :func:`notus_data.synthetic.edge_case_rows` of the table."""
    kind_of = {row: kind for kind, rows in edge_rows.items() for row in rows}
    rows = table.to_pylist()
    out = []
    for i, row in enumerate(rows):
        rng = np.random.default_rng([seed, i, 20261202])
        pair, other = pairs[i % len(pairs)], pairs[(i * 7 + 3) % len(pairs)]
        kind = kind_of.get(i)
        row = dict(row)
        if row["source"] != "truthful_qa" and not (kind or "").startswith("truthfulqa"):
            prefix = row["instruction"].split(": ", 1)[0] + ": " if kind == "non_ascii" else ""
            row["instruction"] = prefix + pair["prompt"]
        elif kind == "truthfulqa_embedded":
            question = next(q for q in _questions(row) if q)
            row["instruction"] = _WRAPPERS[i % len(_WRAPPERS)].format(q=question)
        row["completions"] = _completions(row, pair, other, rng)
        out.append(row)
    return pa.Table.from_pylist(out, schema=table.schema)


def _questions(row: dict[str, Any]) -> list[str]:
    return [q for q, _, _ in TRUTHFULQA_QUESTIONS if q in row["instruction"]]


def _answers(row: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    """(correct, incorrect) answers of a row that asks a TruthfulQA question, or None for any other row."""
    if row["source"] == "truthful_qa":
        good = [a for a in row.get("correct_answers") or [] if a and a != "None"]
        bad = [a for a in row.get("incorrect_answers") or [] if a and a != "None"]
    else:
        found = [
            (c, i)
            for q, c, i in TRUTHFULQA_QUESTIONS
            if " ".join(q.split()) in " ".join(row["instruction"].split())
        ]
        if not found:
            return None
        good, bad = list(found[0][0]), list(found[0][1])
    return good or ["I have no comment."], bad or ["Nobody knows."]


def _completions(
    row: dict[str, Any], pair: dict[str, Any], other: dict[str, Any], rng: np.random.Generator
) -> Any:
    completions = row["completions"]
    if not completions:
        return completions
    answers = _answers(row)
    if answers is not None:
        good, bad = answers
        texts = [f"{good[0]}.", f"It depends, but most likely {good[-1][0].lower() + good[-1][1:]}.", f"{bad[0]}.",
                 f"{bad[-1]}. This is well known."]  # fmt: skip
    else:
        texts = [pair["chosen"], pair["rejected"], _cut(pair["chosen"], rng), other["chosen"]]
    live = [j for j, c in enumerate(completions) if c is not None and c.get("response") is not None]
    ranked = sorted(live, key=lambda j: (-np.nan_to_num(_mean(completions[j]), nan=-1.0), j))
    new_text: dict[str, str] = {}  # identical responses stay identical
    result = []
    for j, c in enumerate(completions):
        if c is None:
            result.append(None)
            continue
        c = dict(c)
        if c.get("response") is not None:
            old = c["response"]
            if old not in new_text:
                exotic = old.split(": ", 1)[0] + ": " if any(ord(ch) > 127 for ch in old[:12]) else ""
                new_text[old] = exotic + texts[min(ranked.index(j), len(texts) - 1)]
            c["response"] = new_text[old]
        mean = _mean(c)
        if c.get("critique") is not None:
            c["critique"] = critique(c.get("overall_score"), mean, rng)
        annotations = c.get("annotations")
        if isinstance(annotations, dict):
            fixed = {}
            for aspect, node in annotations.items():
                if isinstance(node, list):
                    fixed[aspect] = [_rationales(n, aspect) if isinstance(n, dict) else n for n in node]
                else:
                    fixed[aspect] = _rationales(node, aspect) if isinstance(node, dict) else node
            c["annotations"] = fixed
        result.append(c)
    return result


__all__ = ["critique", "readable"]
