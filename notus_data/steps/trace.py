"""Tracing: the fate of every input row of a binarizing pipeline, for ``notus-data explain``.

Two wrappers that change nothing about what a pipeline makes (the same counts, the same report) and add side
tables:

- :class:`RemovalTrace` wraps any step before the binarizer: each row the step removes gets one ``trace`` row
  (its ``row_index``, ``prompt_id``, prompt, the step's name and reason);
- :class:`BinarizeTrace` replaces the binarize step: every row reaching it gets one ``trace`` row (its reason, or
  null where it gave pairs; the tie structure of its scores; its scores and the text key of each completion),
  and each pair one ``ours_pairs`` row (the text keys of chosen and rejected, their scores). Its main table is
  left empty: explain needs the keys, not the texts.

Texts are compared through :func:`text_keys`: a 64-bit key of :func:`normalize_text`. Prompts: Unicode NFKC,
curly quotes made straight, every run of white space one space, trimmed; case and punctuation are kept, so ``2+2``
and ``2*2`` stay apart. Responses: the same, but white space inside the text is kept (it is their layout; and it
spares a pass over the largest texts).

>>> normalize_text(pa.array(["  Why  is the sky \\u201cblue\\u201d?\\n", None])).to_pylist()
['Why is the sky "blue"?', '']
>>> normalize_text(pa.array(["  1.  Preheat\\n2.  Bake "]), collapse=False).to_pylist()
['1.  Preheat\\n2.  Bake']
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.schema import column_array, list_parts
from notus_data.steps.base import Step, StepResult, outcomes
from notus_data.steps.binarize import BinarizeOptions, binarize_table

TRACE_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),  # position of the row in the input
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("prompt", pa.string()),
        ("key", pa.int64()),  # text_keys of the prompt
        ("step", pa.string()),  # the step that finished the row without a pair (null: it gave pairs)
        ("reason", pa.string()),  # that step's reason
        ("n_pairs", pa.int64()),
        (
            "tie_partners",
            pa.int64(),
        ),  # other scorable completions scoring the same as the top (null: not scored)
        ("others", pa.int64()),  # scorable completions besides the chosen
        ("scores", pa.list_(pa.float64())),  # the score of each completion (null: unscorable)
        ("texts", pa.list_(pa.int64())),  # text_keys of each completion's response
    ]
)
PAIRS_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),
        ("chosen", pa.int64()),  # text_keys of the chosen response
        ("rejected", pa.int64()),
        ("chosen_score", pa.float64()),
        ("rejected_score", pa.float64()),
    ]
)
_QUOTES = (("[\u2018\u2019\u201a\u201b\u2032]", "'"), ("[\u201c\u201d\u201e\u201f\u2033]", '"'))


def normalize_text(texts: pa.Array | pa.ChunkedArray, collapse: bool = True) -> pa.Array:
    """The text used to compare prompts (``collapse``: runs of white space become one space) and responses (not);
    see the module docstring. Null becomes ``""``. NFKC and the quotes touch only the texts that are not ASCII
    (NFKC leaves ASCII as it is)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    out = pc.fill_null(texts.cast(pa.string()), "")
    wide = pc.invert(pc.string_is_ascii(out))
    if pc.any(wide).as_py():
        some = pc.utf8_normalize(out.filter(wide), "NFKC")
        for pattern, replacement in _QUOTES:
            some = pc.replace_substring_regex(some, pattern=pattern, replacement=replacement)
        out = pc.replace_with_mask(out, wide, some)
    if collapse:  # a run of two or more white space characters, or one that is not a space: one space
        out = pc.replace_substring_regex(out, pattern=r"\s{2,}|[\t\n\r\f\v]", replacement=" ")
    return pc.utf8_trim_whitespace(out)


def text_keys(texts: pa.Array | pa.ChunkedArray, collapse: bool = True) -> np.ndarray:
    """A 64-bit key (int64) of each normalized text (:func:`normalize_text`): the first 8 bytes of its blake2b
    digest, one hashlib call per text (as ``prompt_id`` is made); equal keys mean equal normalized texts."""
    normalized = normalize_text(texts, collapse)
    n = len(normalized)
    if n == 0:
        return np.zeros(0, np.int64)
    offsets = np.frombuffer(normalized.buffers()[1], dtype=np.int32)[
        normalized.offset : normalized.offset + n + 1
    ]
    data = memoryview(normalized.buffers()[2] or b"")
    ends = offsets.tolist()
    digests = b"".join(
        hashlib.blake2b(data[a:b], digest_size=8).digest() for a, b in zip(ends[:-1], ends[1:], strict=True)
    )
    return np.frombuffer(digests, dtype="<i8").copy()


def _trace_rows(table: pa.Table, mask: np.ndarray, step: str, reasons: Any) -> pa.Table:
    """Trace rows of the rows of ``table`` under ``mask``, finished by ``step`` without a pair."""
    rows = table.filter(pa.array(mask))
    n = rows.num_rows
    instruction = column_array(rows, "instruction")
    unscored = ("tie_partners", "others", "scores", "texts")
    nulls = {name: pa.nulls(n, TRACE_SCHEMA.field(name).type) for name in unscored}
    return pa.table(
        {
            "row_index": column_array(rows, "row_index"),
            "prompt_id": column_array(rows, "prompt_id"),
            "source": column_array(rows, "source"),
            "prompt": instruction,
            "key": pa.array(text_keys(instruction)),
            "step": pa.array([step] * n, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "n_pairs": pa.array(np.zeros(n, np.int64)),
            **nulls,
        },
        schema=TRACE_SCHEMA,
    )


class RemovalTrace(Step):
    """``step`` as it is, plus one ``trace`` row per row it removes (its outcomes, in input order)."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self.name, self.reads, self.adds = step.name, step.reads, step.adds
        self.side_outputs = {**step.side_outputs, "trace": TRACE_SCHEMA}

    def check(self, source: Any) -> None:
        self.step.check(source)

    def setup(self) -> None:
        self.step.setup()

    def finish(self, stats: dict[str, Any]) -> Any:
        return self.step.finish(stats)

    def process(self, table: pa.Table, start: int) -> StepResult:
        result = self.step.process(table, start)
        done = result.outcomes
        if done is None or done.num_rows == 0:
            return result
        before = column_array(table, "row_index").to_numpy()
        after = column_array(result.table, "row_index").to_numpy() if result.table.num_rows else before[:0]
        removed = ~np.isin(before, after)
        if int(removed.sum()) != done.num_rows:
            raise AssertionError(
                f"step {self.name}: {done.num_rows} rows finished but {int(removed.sum())} left the batch"
            )
        result.side = {**result.side, "trace": _trace_rows(table, removed, self.name, done.column("reason"))}
        return result


def _tie_structure(scored: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(tie partners of the top score, scorable completions besides the top one) of each row."""
    lengths, _, flat = list_parts(column_array(scored, "score"))
    n = len(lengths)
    values = flat.to_numpy(zero_copy_only=False).astype(np.float64)
    owner = np.repeat(np.arange(n), lengths)
    valid = ~np.isnan(values)
    top = np.full(n, -np.inf)
    np.maximum.at(top, owner[valid], values[valid])
    scorable = np.bincount(owner[valid], minlength=n)
    at_top = np.bincount(owner[valid & (values == top[owner])], minlength=n)
    return np.maximum(at_top - 1, 0), np.maximum(scorable - 1, 0)


class BinarizeTrace(Step):
    """The binarize step with ``trace`` and ``ours_pairs`` side tables (see the module docstring); the rows are
    finished as :class:`~notus_data.steps.binarize.BinarizeStep` finishes them."""

    name = "binarize"
    reads = ("completions", "score", "avg_rating", "prompt_id", "source", "instruction")
    side_outputs = {"trace": TRACE_SCHEMA, "ours_pairs": PAIRS_SCHEMA}

    def __init__(self, options: BinarizeOptions) -> None:
        self.options = replace(options, format="notus")  # the columns explain reads; the pairs are the same

    def process(self, table: pa.Table, start: int) -> StepResult:
        pairs, rows = binarize_table(table, self.options)
        n_pairs = rows.column("n_pairs").to_numpy()
        ties, others = _tie_structure(table)
        lengths, _, flat = list_parts(column_array(table, "completions"))
        responses = pc.struct_field(flat, "response")
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        instruction = column_array(table, "instruction")
        reasons = rows.column("reason")
        trace = pa.table(
            {
                "row_index": column_array(table, "row_index"),
                "prompt_id": column_array(table, "prompt_id"),
                "source": column_array(table, "source"),
                "prompt": instruction,
                "key": pa.array(text_keys(instruction)),
                "step": pc.if_else(pc.is_null(reasons), pa.scalar(None, pa.string()), "binarize"),
                "reason": reasons,
                "n_pairs": pa.array(n_pairs),
                "tie_partners": pa.array(ties.astype(np.int64)),
                "others": pa.array(others.astype(np.int64)),
                "scores": pa.ListArray.from_arrays(offsets, list_parts(column_array(table, "score"))[2]),
                "texts": pa.ListArray.from_arrays(offsets, pa.array(text_keys(responses, collapse=False))),
            },
            schema=TRACE_SCHEMA,
        )
        ours_pairs = pa.table(
            {
                "row_index": pa.array(np.repeat(column_array(table, "row_index").to_numpy(), n_pairs)),
                "chosen": pa.array(text_keys(pairs.column("chosen_response"), collapse=False)),
                "rejected": pa.array(text_keys(pairs.column("rejected_response"), collapse=False)),
                "chosen_score": pairs.column("chosen_score"),
                "rejected_score": pairs.column("rejected_score"),
            },
            schema=PAIRS_SCHEMA,
        )
        done = outcomes(rows.column("source"), reasons, rows.column("n_pairs"))
        return StepResult(pairs.slice(0, 0), outcomes=done, side={"trace": trace, "ours_pairs": ours_pairs})
