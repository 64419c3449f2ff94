"""Any other rated set, by naming its columns: ``columns="prompt=COL,responses=COL,scores=COL"``.

Two layouts:

- list columns (``responses`` and ``scores`` keys): one prompt per row, as ``rm-scored``; ``models=COL`` (a list)
  is optional; the prompt column is a string, or a message list (``[{role, content}]``) ending with the user turn;
- one row per response (``response`` and ``score`` keys): rows grouped by the exact prompt text, as HelpSteer2
  (prompts in order of first appearance, responses in input order); ``model=COL`` is optional.

``source=COL`` names a column for the by-source counts. With ``higher_is_better=False`` (``--lower-is-better``,
for ranks) the score is the value's negative, so the lowest value is chosen. A score that is not a number leaves
its response without a score (``invalid_score``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.errors import OptionError, SchemaError
from notus_data.formats import MESSAGES_TYPE
from notus_data.normalize import parse_numbers
from notus_data.sources.base import join_problems, need, problems, text
from notus_data.sources.format import SourceFormat, null_response_problems, response_rows
from notus_data.sources.rm_scored import scored_lists

LIST_KEYS = {"prompt", "responses", "scores", "models", "source"}
ROW_KEYS = {"prompt", "response", "score", "model", "source"}


def parse_spec(spec: str | None) -> dict[str, str]:
    """``"prompt=q,responses=a,scores=s"`` as a dict, checked."""
    if not spec:
        raise OptionError(
            "columns: the columns source needs --columns, e.g. prompt=question,responses=answers,scores=ratings "
            "(or prompt=question,response=answer,score=rating for one row per response)"
        )
    out: dict[str, str] = {}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise OptionError(f"columns: {item.strip()!r} is not KEY=COLUMN (e.g. prompt=question)")
        out[key] = value
    if {"responses", "scores"} <= set(out) and "prompt" in out:
        unknown = set(out) - LIST_KEYS
    elif {"response", "score"} <= set(out) and "prompt" in out:
        unknown = set(out) - ROW_KEYS
    else:
        raise OptionError(
            f"columns: {spec!r} needs prompt with responses and scores (list columns), or prompt with response and "
            "score (one row per response)"
        )
    if unknown:
        raise OptionError(
            f"columns: unknown key(s) {sorted(unknown)}; the keys are {', '.join(sorted(LIST_KEYS | ROW_KEYS))}"
        )
    return out


def is_messages(t: pa.DataType) -> bool:
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)) or not pa.types.is_struct(t.value_type):
        return False
    return t.value_type.get_field_index("role") >= 0 and t.value_type.get_field_index("content") >= 0


class Columns(SourceFormat):
    name = "columns"

    def __init__(self, columns: str | None = None, higher_is_better: bool = True, **_: object) -> None:
        self.spec = parse_spec(columns)
        self.sign = 1.0 if higher_is_better else -1.0
        self.grouped = "response" in self.spec
        self.prompt_column = self.spec["prompt"]
        self.read = tuple(self.spec.values())

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return False  # never detected: named with --columns

    def check(self, schema: pa.Schema, origin: str) -> None:
        s = self.spec
        if self.grouped:
            kinds = {s["prompt"]: "string", s["response"]: "string", s["score"]: "number"}
            kinds.update({s[k]: "string" for k in ("model", "source") if k in s})
        else:
            kinds = {s["responses"]: "list", s["scores"]: "list"}
            kinds.update({s[k]: "list" for k in ("models",) if k in s})
            if s["prompt"] in schema.names and not is_messages(schema.field(s["prompt"]).type):
                kinds[s["prompt"]] = "string"
        missing = [c for c in self.spec.values() if c not in schema.names]
        if missing:
            raise SchemaError(
                f"{origin}: column(s) {missing} named in --columns are missing (columns: {sorted(schema.names)})"
            )
        need(schema, origin, s["prompt"], kinds, self.name)

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        s = self.spec
        prompt = raw.column(s["prompt"]).combine_chunks()
        messages = instruction = None
        if is_messages(prompt.type):
            conv = prompt.to_pylist()
            users = [None if not m else [t for t in m if t.get("role") == "user"] for m in conv]
            instruction = pa.array([u[-1]["content"] if u else None for u in users], pa.string())
            messages = pa.array([m if m and len(m) > 1 else None for m in conv], MESSAGES_TYPE)
        if "source" in s:
            raw = (
                raw.append_column("source", raw.column(s["source"]))
                if "source" not in raw.column_names
                else raw
            )
        return scored_lists(
            raw, start, s["prompt"], s["responses"], s["scores"], sign=self.sign, models=s.get("models"),
            name=self.name, messages=messages, instruction=instruction,
        )  # fmt: skip

    def responses(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        s = self.spec
        found = []
        prompt, response = text(raw, s["prompt"]), text(raw, s["response"])
        found += null_response_problems(response, start, s["response"])
        null_prompt = ~pc.is_valid(prompt).to_numpy(zero_copy_only=False)
        if null_prompt.any():
            rows = np.flatnonzero(null_prompt) + start
            found.append(problems(rows, s["prompt"], [None] * len(rows), "null_prompt"))
        values = raw.column(s["score"]).combine_chunks()
        score, _ = parse_numbers(values, -np.inf, np.inf)
        bad = np.isnan(score)
        if bad.any():
            at = np.flatnonzero(bad)
            found.append(
                problems(at + start, s["score"], values.take(pa.array(at)).to_pylist(), "invalid_score")
            )
        score = self.sign * score
        score[~pc.is_valid(response).to_numpy(zero_copy_only=False)] = np.nan
        model = text(raw, s["model"]) if "model" in s else None
        source = text(raw, s["source"]) if "source" in s else self.name
        return response_rows(start, source, prompt, response, model, score), join_problems(found)
