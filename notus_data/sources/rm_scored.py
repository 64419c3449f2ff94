"""Reward-model-scored sets (princeton-nlp/llama3-ultrafeedback-armorm and the like): ``prompt``,
``all_generated_responses`` (list of strings) and ``all_rm_scores`` (list of numbers, one per response).

Rules: each row is one prompt; a response's score is its reward-model score (higher is better); a score that is
null or not a number leaves that response without a score (``invalid_score``); a row whose two lists differ in
length gives no prompt (``lengths_differ``, counted as ``invalid_row``). The set's own ``chosen``/``rejected``
columns are not read: the pairs are drawn again by the strategy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.normalize import parse_numbers
from notus_data.schema import list_parts
from notus_data.sources.base import canonical, join_problems, need, problems, source_column, text
from notus_data.sources.format import SourceFormat

RESPONSES, SCORES = "all_generated_responses", "all_rm_scores"


def scored_lists(
    raw: pa.Table, start: int, prompt: str, responses: str, scores: str, *, sign: float = 1.0,
    models: str | None = None, name: str = "rm-scored", messages: pa.Array | None = None,
    instruction: pa.Array | None = None,
) -> tuple[pa.Table, pa.Table]:  # fmt: skip
    """One prompt per row from a list of responses and a list of scores (rm-scored, and the columns source)."""
    n = raw.num_rows
    found = []
    if instruction is None:
        instruction = text(raw, prompt)
    resp = raw.column(responses).combine_chunks()
    sc = raw.column(scores).combine_chunks()
    r_len, _, r_flat = list_parts(resp)
    s_len, _, s_flat = list_parts(sc)
    broken = ~pc.is_valid(instruction).to_numpy(zero_copy_only=False) | ~pc.is_valid(resp).to_numpy(
        zero_copy_only=False
    )
    if (~pc.is_valid(instruction).to_numpy(zero_copy_only=False)).any():
        rows = np.flatnonzero(~pc.is_valid(instruction).to_numpy(zero_copy_only=False))
        found.append(problems(rows + start, prompt, [None] * len(rows), "null_prompt"))
    differ = ~broken & (r_len != s_len)
    if differ.any():
        rows = np.flatnonzero(differ)
        found.append(problems(rows + start, scores, [f"{s_len[i]} scores for {r_len[i]} responses" for i in rows],
                              "lengths_differ"))  # fmt: skip
    broken |= differ
    keep_r = np.repeat(~broken, r_len)
    keep_s = np.repeat(~broken, s_len)
    lengths = np.where(broken, 0, r_len)
    response = r_flat.filter(pa.array(keep_r)).cast(pa.string())
    values = s_flat.filter(pa.array(keep_s))
    score, invalid = parse_numbers(values, -np.inf, np.inf)
    row = np.repeat(np.arange(n), lengths)
    idx = np.arange(len(score)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    bad = np.isnan(score)
    if bad.any():
        at = np.flatnonzero(bad)
        found.append(problems(row[at] + start, [f"{scores}[{i}]" for i in idx[at]], values.take(pa.array(at)).to_pylist(),
                              "invalid_score"))  # fmt: skip
    null_response = ~pc.is_valid(response).to_numpy(zero_copy_only=False)
    if null_response.any():
        at = np.flatnonzero(null_response)
        found.append(problems(row[at] + start, [f"{responses}[{i}]" for i in idx[at]], [None] * len(at),
                              "null_response"))  # fmt: skip
    score = sign * score
    score[null_response] = np.nan
    model = None
    if models is not None:
        m_len, _, m_flat = list_parts(raw.column(models).combine_chunks())
        model_values = np.full(len(score), None, dtype=object)
        m_list = m_flat.cast(pa.string()).to_pylist()
        m_starts = np.cumsum(m_len) - m_len
        for k in range(len(score)):
            i, j = row[k], idx[k]
            if j < m_len[i]:
                model_values[k] = m_list[m_starts[i] + j]
        model = pa.array(list(model_values), pa.string())
    table = canonical(
        row_index=np.arange(start, start + n), source=source_column(raw, name), instruction=instruction,
        lengths=lengths, response=response, model=model, score=score, messages=messages, broken=broken,
    )  # fmt: skip
    return table, join_problems(found)


class RMScored(SourceFormat):
    name = "rm-scored"
    read = ("prompt", RESPONSES, SCORES, "source")

    def __init__(self, **_: object) -> None:
        pass

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return {"prompt", RESPONSES, SCORES} <= names

    def check(self, schema: pa.Schema, origin: str) -> None:
        need(schema, origin, "prompt", {"prompt": "string", RESPONSES: "list", SCORES: "list"}, self.name)

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        return scored_lists(raw, start, "prompt", RESPONSES, SCORES, name=self.name)
