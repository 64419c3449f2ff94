"""Rows in blocks of :data:`BLOCK_ROWS`, each made by its own seeded generator (so row ``i`` depends on
``(seed, i)`` alone)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from notus_data.synthetic.params import (
    _ASPECT_BIAS,
    _ASPECT_SD,
    _COMPLETION_SD,
    _CRITIQUE,
    _MODEL_NAMES,
    _MODEL_STRENGTH,
    _OVERALL_HALF_STEPS,
    _OVERALL_SD,
    _OVERALL_SHIFT,
    _OVERALL_SLOPE,
    _PRINCIPLE_CDF,
    _PROMPT_CLIP,
    _PROMPT_MEDIAN,
    _PROMPT_SIGMA,
    _RATIONALE,
    _RATIONALE_FOR_RATING,
    _RESPONSE,
    _RESPONSE_FACTOR,
    _ROW_SD,
    _SOURCE_CDF,
    _SOURCE_NAMES,
    _SRC,
    _STREAM,
    _SYSTEM_PROMPT_COUNT,
    _SYSTEM_PROMPT_FIRST,
    _SYSTEM_PROMPT_TEXTS,
    BLOCK_ROWS,
)
from notus_data.synthetic.schema import (
    _EDGE_KINDS,
    _EDGE_LAYOUT,
    ASPECTS,
    EDGE_PERIOD,
    PRINCIPLES,
    TRUTHFULQA_QUESTIONS,
    raw_schema,
)
from notus_data.synthetic.text import (
    _BAD_RATING,
    _CRITIQUE_OPENERS,
    _EXOTIC_PREFIX,
    _HELP_TYPES,
    _NA,
    _PROMPT_OPENERS,
    _RATING_LABELS,
    _RATIONALE_ASPECT,
    _RATIONALE_OPENERS,
    _RATIONALE_TEXTS,
    _TRUTH_TYPES,
    _text_maker,
)

# ------------------------------------------------------------------------------------------------ row blocks


def _lengths(rng: np.random.Generator, median, spec: tuple, shape) -> np.ndarray:
    """Lognormal lengths around ``median`` with ``spec = (_, sigma, low, high)``."""
    _, sigma, low, high = spec
    return np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(shape))), low, high)


def _list_of_strings(options: tuple[tuple[str, ...], ...], choice: np.ndarray) -> pa.ListArray:
    """A list<string> array whose item ``i`` is ``options[choice[i]]``."""
    offsets = np.cumsum([0] + [len(o) for o in options]).astype(np.int32)
    lists = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array([s for o in options for s in o], pa.string())
    )
    return lists.take(pa.array(choice, pa.int64()))


def _strings(values: tuple[str, ...] | list[str], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index, pa.int64()))


@dataclass
class _Block:
    """The numbers of one block of ``n`` rows; per-completion arrays have shape (n, 4) (ratings: (n, 4, 4))."""

    source: np.ndarray
    models: np.ndarray
    ratings: np.ndarray  # rating codes, see _RATING_LABELS
    overall: np.ndarray
    n: int = 0
    n_completions: np.ndarray = field(init=False)
    null_completion: np.ndarray = field(init=False)
    null_response: np.ndarray = field(init=False)
    null_overall: np.ndarray = field(init=False)
    null_aspect: np.ndarray = field(init=False)
    bug: np.ndarray = field(init=False)  # completions that carry the critique-score bug
    response_from: np.ndarray = field(init=False)  # response of completion (r, c) = response number [r, c]
    exotic: np.ndarray = field(init=False)  # rows with non-ASCII text
    instruction: dict[int, str] = field(default_factory=dict)  # instructions that replace the generated ones

    def __post_init__(self) -> None:
        n = self.n = len(self.source)
        self.n_completions = np.full(n, 4)
        self.null_completion, self.null_response, self.null_overall, self.bug = (
            np.zeros((n, 4), bool) for _ in "abcd"
        )
        self.null_aspect = np.zeros((n, 4, 4), bool)
        self.response_from = np.arange(4 * n).reshape(n, 4)
        self.exotic = np.zeros(n, bool)

    def add_edge_case(self, kind: str, r: int, row: int, rng: np.random.Generator) -> None:
        """Give local row ``r`` (row ``row`` of the output) the edge case ``kind``."""
        occurrence = row // (EDGE_PERIOD // 2)
        # the completion it hits varies with the kind and the occurrence
        slot = (occurrence + _EDGE_KINDS.index(kind)) % 4
        ratings = self.ratings[r]
        if kind == "na_rating":
            ratings[1, 1] = ratings[2, 0] = _NA
        elif kind == "all_na":
            ratings[slot] = _NA
        elif kind == "tie_top":
            top = int(np.argmax(ratings.mean(-1)))
            other = (top + 1 + occurrence % 3) % 4
            ratings[:] = np.minimum(ratings, 3)  # every other mean <= 4, below the shared top (4.75 or 5)
            ratings[top] = ratings[other] = (4, 4, 3, 4) if occurrence % 2 else (4, 4, 4, 4)
        elif kind == "all_tie":
            ratings[:] = ratings[slot]
        elif kind in ("one_completion", "zero_completions"):
            self.n_completions[r] = 1 if kind == "one_completion" else 0
        elif kind in ("critique_bug_low", "critique_bug_mid"):
            low = ((0, 0, 1, 1), (1, 0, 0, 0), (1, 1, 1, 1), (0, 1, 0, 1))  # means 1.5, 1.25, 2, 1.5
            mid = ((2, 1, 2, 2), (3, 2, 2, 3), (2, 2, 2, 2), (3, 3, 2, 3))  # means 2.75, 3.5, 3, 3.75
            ratings[slot] = (low if kind == "critique_bug_low" else mid)[occurrence % 4]
            self.overall[r, slot] = 10.0
            self.bug[r, slot] = True
        elif kind == "non_ascii":
            self.exotic[r] = True
            if self.source[r] == _SRC["truthful_qa"]:  # keep the generated, non-ASCII, instruction
                self.source[r] = _SRC["sharegpt"]
        elif kind in _BAD_RATING:
            ratings[slot, 3] = _BAD_RATING[kind]
        elif kind == "null_completion":
            self.null_completion[r, slot] = True
        elif kind == "null_response":
            self.null_response[r, slot] = True
        elif kind == "null_overall_score":
            self.null_overall[r, slot] = True
        elif kind == "null_aspect":
            self.null_aspect[r, slot, 2] = True
        elif kind == "identical_responses":
            copy = (slot + 2) % 4
            self.response_from[r, copy] = self.response_from[r, slot]
            if ratings[copy].sum() == ratings[slot].sum():
                ratings[copy, 3] += -1 if ratings[copy, 3] > 0 else 1
        elif kind.startswith("truthfulqa_"):
            question = TRUTHFULQA_QUESTIONS[int(rng.integers(len(TRUTHFULQA_QUESTIONS)))][0]
            self.source[r] = _SRC["sharegpt" if kind == "truthfulqa_embedded" else "evol_instruct"]
            self.instruction[r] = {
                "truthfulqa_exact": question,
                "truthfulqa_prefixed": "Q: " + question.replace(" ", "  ", 1),
                "truthfulqa_embedded": "I am preparing a quiz for my students and need a careful answer. "
                f"{question} Please explain your reasoning step by step and cite a source if you can.",
            }[kind]
        else:  # pragma: no cover - EDGE_CASES and this method go together
            raise AssertionError(f"unknown edge case {kind!r}")


class _BlockMaker:
    """Makes block ``b`` (rows ``b * BLOCK_ROWS`` onwards) as a table; its randomness comes from (seed, b)."""

    def __init__(self, seed: int, edge_cases: bool, aspect_as_list: bool, drop_fine_grained: bool) -> None:
        self.seed = seed
        self.edge_cases = edge_cases
        self.aspect_as_list = aspect_as_list
        self.schema = raw_schema(aspect_as_list=aspect_as_list, drop_fine_grained=drop_fine_grained)
        text = self.text = _text_maker()
        self.prompt_openers = [text.ids(_PROMPT_OPENERS[s]) for s in _SOURCE_NAMES]
        self.critique_openers = {k: text.ids(v) for k, v in _CRITIQUE_OPENERS.items()}
        invalid = np.full(len(_RATING_LABELS) - len(_RATIONALE_OPENERS["honesty"]), -1)  # no opener
        self.rationale_openers = {
            k: np.concatenate([text.ids(v), invalid]) for k, v in _RATIONALE_OPENERS.items()
        }
        self.exotic_prefix = text.ids(_EXOTIC_PREFIX)
        self.critique_reserve = text.mean_length(*_CRITIQUE_OPENERS.values())
        self.rationale_reserve = {k: text.mean_length(v) for k, v in _RATIONALE_OPENERS.items()}

    def make(self, block_index: int) -> pa.Table:
        rng = np.random.default_rng([_STREAM, self.seed, block_index])
        edge_rng = np.random.default_rng([_STREAM, self.seed, block_index, 1])  # edge cases only
        n = BLOCK_ROWS
        rows = block_index * n + np.arange(n)

        # numbers, drawn in a fixed order
        source = np.searchsorted(_SOURCE_CDF, rng.random(n), side="right")
        models = np.argsort(rng.random((n, len(_MODEL_NAMES))), axis=1)[:, :4]
        principle = (rng.random((n, 4))[..., None] >= _PRINCIPLE_CDF[source][:, None, :]).sum(-1)
        principle = np.minimum(principle, len(PRINCIPLES) - 1)
        system_prompt = (
            _SYSTEM_PROMPT_FIRST[principle]
            + rng.integers(0, 1 << 30, (n, 4)) % _SYSTEM_PROMPT_COUNT[principle]
        )
        quality = (
            _MODEL_STRENGTH[models] + rng.normal(0, _ROW_SD, (n, 1)) + rng.normal(0, _COMPLETION_SD, (n, 4))
        )
        aspect_quality = quality[..., None] + _ASPECT_BIAS + rng.normal(0, _ASPECT_SD, (n, 4, 4))
        ratings = np.clip(np.rint(aspect_quality), 1, 5).astype(np.int64) - 1
        critic = _OVERALL_SLOPE * quality + _OVERALL_SHIFT + rng.normal(0, _OVERALL_SD, (n, 4))
        half_steps = rng.random((n, 4)) < _OVERALL_HALF_STEPS
        overall = np.clip(np.where(half_steps, np.rint(2 * critic) / 2, np.rint(critic)), 1, 10)
        truth_type = rng.integers(0, len(_TRUTH_TYPES), (n, 4))
        help_type = rng.integers(0, len(_HELP_TYPES), (n, 4))
        opener = rng.integers(0, 1 << 30, n)
        question = rng.integers(0, len(TRUTHFULQA_QUESTIONS), n)
        prompt_chars = _lengths(rng, _PROMPT_MEDIAN[source], (0, _PROMPT_SIGMA[source], *_PROMPT_CLIP), n)
        response_chars = _lengths(rng, _RESPONSE[0] * _RESPONSE_FACTOR[source][:, None], _RESPONSE, (n, 4))
        critique_chars = _lengths(rng, _CRITIQUE[0], _CRITIQUE, (n, 4))
        rationale_chars = _lengths(rng, _RATIONALE[0], _RATIONALE, (n, 4, 6))
        rationale_chars[..., [3, 5]] = _lengths(
            rng, _RATIONALE_FOR_RATING[0], _RATIONALE_FOR_RATING, (n, 4, 2)
        )

        b = _Block(source, models, ratings, overall)
        if self.edge_cases:
            kinds = _EDGE_LAYOUT[rows % EDGE_PERIOD]
            for r in np.flatnonzero(kinds >= 0):
                b.add_edge_case(_EDGE_KINDS[kinds[r]], int(r), int(rows[r]), edge_rng)
        is_tqa = b.source == _SRC["truthful_qa"]
        for r in np.flatnonzero(is_tqa):
            b.instruction[int(r)] = TRUTHFULQA_QUESTIONS[question[r]][0]

        # texts
        text = self.text
        prompt_prefix = np.full(n, -1, dtype=np.int64)
        for s, pool in enumerate(self.prompt_openers):
            in_source = np.flatnonzero(b.source == s)
            choice = opener[in_source] % (len(pool) + 1)  # len(pool): no opener
            prompt_prefix[in_source[choice < len(pool)]] = pool[choice[choice < len(pool)]]
        prompt_prefix[b.exotic] = self.exotic_prefix[0]
        instruction = text.render(rng, prompt_chars, prompt_prefix, exotic=b.exotic, exotic_rng=edge_rng)
        if b.instruction:
            index = np.arange(n)
            index[list(b.instruction)] = n + np.arange(len(b.instruction))
            extra = pa.array(list(b.instruction.values()), pa.string())
            instruction = pa.concat_arrays([instruction, extra]).take(pa.array(index))
        exotic_slots = np.repeat(b.exotic, 4)
        response_prefix = np.where(exotic_slots, self.exotic_prefix[1], -1)
        response = text.render(
            rng, response_chars.ravel(), response_prefix, exotic=exotic_slots, exotic_rng=edge_rng
        )
        if b.null_response.any() or (b.response_from.ravel() != np.arange(4 * n)).any():
            response = response.take(pa.array(b.response_from.ravel(), mask=b.null_response.ravel()))
        slot_pick = opener[:, None] + np.arange(4)
        pools = [self.critique_openers[k] for k in ("high", "mid", "low", "bug")]
        bucket = np.where(b.bug, 3, np.where(overall >= 8, 0, np.where(overall >= 5, 1, 2)))
        critique_prefix = np.choose(bucket, [p[slot_pick % len(p)] for p in pools])
        critique = text.render(rng, critique_chars.ravel(), critique_prefix.ravel(), self.critique_reserve)
        rationales = [
            text.render(
                rng,
                rationale_chars[:, :, t].ravel(),
                self.rationale_openers[name][ratings[:, :, aspect]].ravel(),
                self.rationale_reserve[name],
            )
            for t, (name, aspect) in enumerate(zip(_RATIONALE_TEXTS, _RATIONALE_ASPECT, strict=True))
        ]
        valid = (ratings <= 4) & ~b.null_aspect
        with np.errstate(invalid="ignore"):
            fine_grained = np.where(valid, ratings + 1, 0).sum(-1) / valid.sum(-1)  # NaN where none is valid
        return self._table(b, principle, system_prompt, fine_grained, truth_type, help_type, question,
                           instruction, response, critique, rationales)  # fmt: skip

    def _table(self, b: _Block, principle, system_prompt, fine_grained, truth_type, help_type, question,
               instruction, response, critique, rationales) -> pa.Table:  # fmt: skip
        """Assemble the Arrow table of a block from its numbers and texts (completions past n_completions go)."""
        kept = np.flatnonzero((np.arange(4) < b.n_completions[:, None]).ravel())
        kept_index = pa.array(kept)

        def slots(values) -> np.ndarray | pa.Array:
            if isinstance(values, np.ndarray):
                return values.reshape(4 * b.n, *values.shape[2:])[kept]
            return values if len(kept) == 4 * b.n else values.take(kept_index)

        aspects = []
        for a in range(len(ASPECTS)):
            rating = _strings(_RATING_LABELS, slots(b.ratings[:, :, a]))
            if a < 2:  # instruction_following, honesty
                arrays, names = [rating, slots(rationales[a])], ["Rating", "Rationale"]
            else:  # truthfulness, helpfulness
                t, types, choice = (2, _TRUTH_TYPES, truth_type) if a == 2 else (4, _HELP_TYPES, help_type)
                arrays = [
                    _list_of_strings(types, slots(choice)),
                    slots(rationales[t]),
                    rating,
                    slots(rationales[t + 1]),
                ]
                names = ["Type", "Rationale", "Rating", "Rationale For Rating"]
            null = pa.array(slots(b.null_aspect[:, :, a]))
            aspect = pa.StructArray.from_arrays(arrays, names=names, mask=null)
            if self.aspect_as_list:
                aspect = pa.ListArray.from_arrays(
                    pa.array(np.arange(len(kept) + 1, dtype=np.int32)), aspect, mask=null
                )
            aspects.append(aspect)
        fields = {
            "model": _strings(_MODEL_NAMES, slots(b.models)),
            "principle": _strings(PRINCIPLES, slots(principle)),
            "custom_system_prompt": _strings(_SYSTEM_PROMPT_TEXTS, slots(system_prompt)),
            "response": slots(response),
            "critique": slots(critique),
            "overall_score": pa.array(slots(b.overall), pa.float64(), mask=slots(b.null_overall)),
            "fine-grained_score": pa.array(slots(fine_grained), pa.float64()),
            "annotations": pa.StructArray.from_arrays(aspects, names=list(ASPECTS)),
        }
        completion_type = self.schema.field("completions").type.value_type
        completions = pa.StructArray.from_arrays(
            [fields[f.name] for f in completion_type],
            fields=list(completion_type),
            mask=pa.array(slots(b.null_completion)),
        )
        is_tqa = b.source == _SRC["truthful_qa"]
        answer = np.where(is_tqa, question + 1, 0)  # 0: ["None"]
        columns = {
            "source": _strings(_SOURCE_NAMES, b.source),
            "instruction": instruction,
            "models": pa.ListArray.from_arrays(
                pa.array(np.arange(0, 4 * b.n + 1, 4, dtype=np.int32)),
                _strings(_MODEL_NAMES, b.models.ravel()),
            ),
            "completions": pa.ListArray.from_arrays(
                pa.array(np.cumsum(np.append(0, b.n_completions)).astype(np.int32)), completions
            ),
            "correct_answers": _list_of_strings((("None",), *(q[1] for q in TRUTHFULQA_QUESTIONS)), answer),
            "incorrect_answers": _list_of_strings((("None",), *(q[2] for q in TRUTHFULQA_QUESTIONS)), answer),
        }
        return pa.Table.from_arrays([columns[name] for name in self.schema.names], schema=self.schema)
