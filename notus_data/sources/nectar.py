"""berkeley-nest/Nectar: a prompt as ``"\\n\\nHuman: ...\\n\\nAssistant:"`` turns and ranked answers.

Rules:

- the prompt is parsed into messages (:func:`notus_data.sources.turns.parse_prompt`); a prompt that does not parse
  gives no prompt (``unparsable_turns``; the row counts as ``invalid_row``);
- answers are ``[{answer, model, rank}]``, rank 1 best; an answer's score is ``8 - rank`` (so higher is better
  and every strategy applies unchanged); a rank that is not a positive integer leaves the answer without a score
  (``invalid_rank``);
- an answer that itself holds ``Human:`` or ``Assistant:`` (a turn marker) is excluded: it takes no part in
  pairing (``answer_has_turns``);
- answers keep their list order (the first on a tie is chosen, as everywhere).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.formats import MESSAGES_TYPE
from notus_data.normalize import parse_numbers
from notus_data.schema import list_parts
from notus_data.sources import turns
from notus_data.sources.base import canonical, join_problems, need, problems, source_column, text
from notus_data.sources.format import SourceFormat


def last_user(messages: list) -> pa.Array:
    return pa.array([None if m is None else m[-1]["content"] for m in messages], pa.string())


class Nectar(SourceFormat):
    name = "nectar"
    read = ("prompt", "answers", "source")

    def __init__(self, **_: object) -> None:
        pass

    @classmethod
    def matches(cls, names: set[str]) -> bool:
        return {"prompt", "answers"} <= names

    def check(self, schema: pa.Schema, origin: str) -> None:
        need(schema, origin, "prompt", {"prompt": "string", "answers": "list"}, self.name)
        value = schema.field("answers").type.value_type
        if (
            not pa.types.is_struct(value)
            or value.get_field_index("answer") < 0
            or value.get_field_index("rank") < 0
        ):
            from notus_data.errors import SchemaError

            raise SchemaError(
                f"{origin}: column 'answers' has type {schema.field('answers').type}; the nectar source needs a "
                "list of {answer, model, rank} structs"
            )

    def prepare(self, raw: pa.Table, start: int) -> tuple[pa.Table, pa.Table]:
        n = raw.num_rows
        found = []
        prompt = text(raw, "prompt")
        messages = [turns.parse_prompt(p) for p in prompt.to_pylist()]
        broken = np.array([m is None for m in messages], dtype=bool)
        bad_prompt = broken & pc.is_valid(prompt).to_numpy(zero_copy_only=False)
        if bad_prompt.any():
            rows = np.flatnonzero(bad_prompt)
            found.append(
                problems(rows + start, "prompt", prompt.take(pa.array(rows)).to_pylist(), "unparsable_turns")
            )
        null_prompt = broken & ~bad_prompt
        if null_prompt.any():
            rows = np.flatnonzero(null_prompt)
            found.append(problems(rows + start, "prompt", [None] * len(rows), "null_prompt"))
        answers = raw.column("answers").combine_chunks()
        broken |= ~pc.is_valid(answers).to_numpy(zero_copy_only=False)
        lengths, _, flat = list_parts(answers)
        lengths = np.where(broken, 0, lengths)
        keep = np.repeat(~broken, list_parts(answers)[0])
        flat = flat.filter(pa.array(keep))
        total = len(flat)
        row = np.repeat(np.arange(n), lengths)
        idx = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        where = [f"answers[{i}]" for i in idx]
        valid = pc.is_valid(flat).to_numpy(zero_copy_only=False)
        answer = pc.struct_field(flat, "answer").cast(pa.string())
        fields = flat.type
        model = pc.struct_field(flat, "model") if fields.get_field_index("model") >= 0 else None
        rank_raw = pc.struct_field(flat, "rank")
        rank, invalid = parse_numbers(rank_raw, 1, np.inf)
        not_integer = ~np.isnan(rank) & (rank != np.round(rank))
        bad_rank = valid & (np.isnan(rank) | not_integer)
        rank[not_integer] = np.nan
        if bad_rank.any():
            at = np.flatnonzero(bad_rank)
            found.append(problems(row[at] + start, [where[i] + ".rank" for i in at],
                                  rank_raw.take(pa.array(at)).to_pylist(), "invalid_rank"))  # fmt: skip
        marked = np.array([turns.has_turns(a) for a in answer.to_pylist()], dtype=bool)
        if marked.any():
            at = np.flatnonzero(marked)
            found.append(problems(row[at] + start, [where[i] + ".answer" for i in at],
                                  answer.take(pa.array(at)).to_pylist(), "answer_has_turns"))  # fmt: skip
        null_answer = valid & ~pc.is_valid(answer).to_numpy(zero_copy_only=False)
        if null_answer.any():
            at = np.flatnonzero(null_answer)
            found.append(problems(row[at] + start, [where[i] + ".answer" for i in at], [None] * len(at),
                                  "null_response"))  # fmt: skip
        score = 8.0 - rank
        score[marked | ~valid | null_answer] = np.nan
        instruction = last_user(messages)
        multi = [None if m is None or len(m) == 1 else m for m in messages]
        source = source_column(raw, self.name)
        table = canonical(
            row_index=np.arange(start, start + n), source=source, instruction=instruction, lengths=lengths,
            response=answer, model=model, score=score, messages=pa.array(multi, MESSAGES_TYPE), broken=broken,
        )  # fmt: skip
        return table, join_problems(found)
