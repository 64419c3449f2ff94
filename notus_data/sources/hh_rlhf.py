"""Anthropic/hh-rlhf (every data dir: helpful-base, harmless-base, helpful-online, ...): chosen and rejected
transcripts, already a pair.

Rules (:func:`notus_data.sources.turns.split_pair`, TRL's): the prompt is the longest common prefix of the two
transcripts that ends at ``"\\n\\nAssistant: "``, parsed into messages; chosen and rejected are the final assistant
turns that follow it. Each row becomes one prompt with two responses, the chosen scored 1 and the rejected 0, so
every strategy gives the pair back unchanged. A row gives no pair (``invalid_row``) when its transcripts do not
parse (``unparsable_turns``), when the chosen or rejected turn is empty or white space (``empty_turn``), or when
both are the same text (``identical_pair``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from notus_data.formats import MESSAGES_TYPE
from notus_data.sources import turns
from notus_data.sources.base import canonical, join_problems, need, problems, source_column, text
from notus_data.sources.format import SourceFormat


class HHRLHF(SourceFormat):
    name = "hh-rlhf"
    read = ("chosen", "rejected", "source")

    def __init__(self, **_: object) -> None:
        pass

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return {"chosen", "rejected"} <= names and "prompt" not in names

    def check(self, schema: pa.Schema, origin: str) -> None:
        need(schema, origin, "chosen", {"chosen": "string", "rejected": "string"}, self.name)

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        n = raw.num_rows
        chosen, rejected = text(raw, "chosen").to_pylist(), text(raw, "rejected").to_pylist()
        kinds: dict[str, list[int]] = {"unparsable_turns": [], "empty_turn": [], "identical_pair": []}
        messages: list = [None] * n
        responses: list = [None] * (2 * n)
        for i, (c, r) in enumerate(zip(chosen, rejected, strict=False)):
            split = turns.split_pair(c, r)
            if split is None:
                kinds["unparsable_turns"].append(i)
                continue
            conv, c_turn, r_turn = split
            if not c_turn.strip() or not r_turn.strip():
                kinds["empty_turn"].append(i)
                continue
            if c_turn == r_turn:
                kinds["identical_pair"].append(i)
                continue
            messages[i] = conv
            responses[2 * i], responses[2 * i + 1] = c_turn, r_turn
        found = []
        for kind, rows in kinds.items():
            if rows:
                values = [chosen[i] if chosen[i] is not None else rejected[i] for i in rows]
                found.append(problems(np.array(rows) + start, "chosen/rejected", values, kind))
        broken = np.array([m is None for m in messages], dtype=bool)
        instruction = pa.array([None if m is None else m[-1]["content"] for m in messages], pa.string())
        multi = [None if m is None or len(m) == 1 else m for m in messages]
        score = np.tile([1.0, 0.0], n)
        source = source_column(raw, self.name)
        table = canonical(
            row_index=np.arange(start, start + n), source=source, instruction=instruction,
            lengths=np.where(broken, 0, 2), response=pa.array(responses, pa.string()).filter(pa.array(np.repeat(~broken, 2))),
            model=None, score=score[np.repeat(~broken, 2)], messages=pa.array(multi, MESSAGES_TYPE), broken=broken,
        )  # fmt: skip
        return table, join_problems(found)
