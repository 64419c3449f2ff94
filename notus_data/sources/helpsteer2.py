"""nvidia/HelpSteer2 (CC-BY-4.0): one row per (prompt, response), five integer ratings 0-4.

Rules:

- rows are grouped by the exact prompt text into one prompt each, prompts in order of first appearance and each
  prompt's responses in input order (a two-pass group index, so a prompt's rows need not be adjacent);
- a response's score is the weighted mean of the chosen aspects' ratings (default: the unweighted mean of
  helpfulness, correctness and coherence); ``weights="nvidia-340b"`` takes all five aspects with NVIDIA's
  published reward weights (helpfulness 0.3, correctness 0.74, coherence 0.46, complexity 0.47, verbosity -0.33),
  so the score is that reward divided by the sum of the weights (1.64): the same order and ties;
- a rating that is not an integer 0-4 (or is missing) in one of the chosen aspects leaves the response without a
  score (counted as ``invalid_rating``); a null response takes no part (``null_response``).

The preference file (``preference/preference.jsonl.gz``: prompt, response_1, response_2, preference_strength -3..3)
is the ``helpsteer2-preference`` format: one prompt per row, two responses; a negative strength prefers
response_1, a positive one response_2, by ``|strength|`` (the pair's margin); 0 is a tie, counted as ``tie``; a
strength outside -3..3 or not an integer leaves the row without a pair (``invalid_score``, the row counted as
``too_few_completions``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError
from notus_data.normalize import parse_numbers
from notus_data.schema import ASPECTS as ULTRAFEEDBACK_ASPECTS
from notus_data.sources.base import canonical, join_problems, need, problems, source_column, text
from notus_data.sources.format import SourceFormat, null_response_problems, response_rows

ASPECTS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
DEFAULT_ASPECTS = ("helpfulness", "correctness", "coherence")
#: Named weight presets: name -> (aspects, weights).
PRESETS = {"nvidia-340b": (ASPECTS, (0.3, 0.74, 0.46, 0.47, -0.33))}


def resolve_weights(
    aspects: tuple[str, ...] | str | None, weights: tuple[float, ...] | str | None
) -> tuple[tuple[str, ...], tuple[float, ...] | None]:
    """The aspects and weights a HelpSteer2 score uses (a preset name in ``weights`` sets both)."""
    if isinstance(weights, str) and weights.strip() in PRESETS:
        return PRESETS[weights.strip()]
    if isinstance(aspects, str):
        aspects = tuple(a.strip() for a in aspects.split(",") if a.strip())
    aspects = tuple(aspects or ())
    if (
        not aspects or aspects == ULTRAFEEDBACK_ASPECTS
    ):  # the UltraFeedback default: not chosen for this source
        aspects = DEFAULT_ASPECTS
    unknown = [a for a in aspects if a not in ASPECTS]
    if unknown:
        raise OptionError(f"aspects: {unknown} are not HelpSteer2 aspects; choose from {', '.join(ASPECTS)}")
    if weights is not None:
        from notus_data.errors import number_list

        weights = number_list(weights, "weights")
        if len(weights) != len(aspects):
            raise OptionError(
                f"weights: {len(weights)} weight(s) for {len(aspects)} aspect(s) {aspects}; give one weight per aspect"
                f" (or a preset: {', '.join(PRESETS)})"
            )
        if sum(weights) <= 0:
            raise OptionError(f"weights: {weights} must have a positive sum")
    return aspects, weights


class HelpSteer2(SourceFormat):
    name = "helpsteer2"
    grouped = True
    prompt_column = "prompt"

    def __init__(self, aspects=None, weights=None, **_: object) -> None:
        self.aspects, self.weights = resolve_weights(aspects, weights)
        self.read = ("prompt", "response", *ASPECTS, "source")

    def columns(self) -> list[str]:
        return ["prompt", "response", *self.aspects, "source"]

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return {"prompt", "response", "helpfulness", "correctness", "coherence"} <= names

    def check(self, schema: pa.Schema, origin: str) -> None:
        need(schema, origin, "prompt", {"prompt": "string", "response": "string"}, self.name)
        need(schema, origin, "ratings", {a: "number" for a in self.aspects}, self.name)

    def responses(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        n = raw.num_rows
        found = []
        prompt = text(raw, "prompt")
        response = text(raw, "response")
        found += null_response_problems(response, start, "response")
        null_prompt = ~pc.is_valid(prompt).to_numpy(zero_copy_only=False)
        if null_prompt.any():
            rows = np.flatnonzero(null_prompt) + start
            found.append(problems(rows, "prompt", [None] * len(rows), "null_prompt"))
        ratings = []
        bad_any = np.zeros(n, dtype=bool)
        for aspect in self.aspects:
            values = raw.column(aspect).combine_chunks()
            numbers, invalid = parse_numbers(values, 0, 4)
            not_integer = ~np.isnan(numbers) & (numbers != np.round(numbers))
            numbers[not_integer] = np.nan
            missing = np.isnan(numbers)
            bad = missing
            if bad.any():
                rows = np.flatnonzero(bad)
                found.append(
                    problems(rows + start, aspect, values.take(pa.array(rows)).to_pylist(), "invalid_rating")
                )
            bad_any |= missing
            ratings.append(numbers)
        stacked = np.column_stack(ratings) if ratings else np.zeros((n, 0))
        w = np.ones(len(self.aspects)) if self.weights is None else np.asarray(self.weights, np.float64)
        with np.errstate(invalid="ignore"):
            score = np.where(bad_any, np.nan, np.where(bad_any[:, None], 0.0, stacked) @ w / w.sum())
        score[~pc.is_valid(response).to_numpy(zero_copy_only=False)] = np.nan
        source = source_column(raw, self.name)
        rows = response_rows(start, source, prompt, response, None, score)
        return rows, join_problems(found)


class HelpSteer2Preference(SourceFormat):
    name = "helpsteer2-preference"
    read = ("prompt", "response_1", "response_2", "preference_strength", "source")

    def __init__(self, **_: object) -> None:
        pass

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return {"prompt", "response_1", "response_2", "preference_strength"} <= names

    def check(self, schema: pa.Schema, origin: str) -> None:
        need(
            schema, origin, "prompt",
            {"prompt": "string", "response_1": "string", "response_2": "string", "preference_strength": "number"},
            self.name,
        )  # fmt: skip

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        n = raw.num_rows
        found = []
        prompt = text(raw, "prompt")
        strength_raw = raw.column("preference_strength").combine_chunks()
        strength, invalid = parse_numbers(strength_raw, -3, 3)
        not_integer = ~np.isnan(strength) & (strength != np.round(strength))
        strength[not_integer] = np.nan
        bad = invalid | not_integer | pc.is_null(strength_raw).to_numpy(zero_copy_only=False)
        if bad.any():
            rows = np.flatnonzero(bad)
            found.append(
                problems(rows + start, "preference_strength", strength_raw.take(pa.array(rows)).to_pylist(),
                         "invalid_score")
            )  # fmt: skip
        r1, r2 = text(raw, "response_1"), text(raw, "response_2")
        for name, column in (("response_1", r1), ("response_2", r2)):
            found += null_response_problems(column, start, name)
        with np.errstate(invalid="ignore"):
            score = np.column_stack([np.maximum(-strength, 0.0), np.maximum(strength, 0.0)])
        score[np.isnan(strength)] = np.nan
        order = np.empty(2 * n, dtype=np.int64)
        order[0::2], order[1::2] = np.arange(n), np.arange(n) + n
        response = pa.concat_arrays([r1, r2]).take(pa.array(order))
        null_prompt = ~pc.is_valid(prompt).to_numpy(zero_copy_only=False)
        if null_prompt.any():
            rows = np.flatnonzero(null_prompt) + start
            found.append(problems(rows, "prompt", [None] * len(rows), "null_prompt"))
        source = source_column(raw, "helpsteer2")
        table = canonical(
            row_index=np.arange(start, start + n), source=source, instruction=prompt,
            lengths=np.full(n, 2), response=response, model=None, score=score.reshape(-1), broken=null_prompt,
        )  # fmt: skip
        return table, join_problems(found)
