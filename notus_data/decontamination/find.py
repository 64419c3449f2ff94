"""Find the rows of an Arrow table that hold a benchmark question, and say why (the kernel of the decontaminate
step).

Which texts of a row are checked (``text_columns`` overrides the defaults):

* raw or canonical UltraFeedback and the ``notus`` format: ``instruction``;
* the ``cleaned`` and ``h4`` formats and any table with a ``prompt`` column: ``prompt``, and every user turn of
  the message lists ``chosen``, ``rejected`` and ``messages``;
* with ``check_responses``: also ``completions[].response``, ``chosen_response`` / ``rejected_response``, text
  ``chosen`` / ``rejected`` columns, and the assistant turns of the message lists.

A row is removed when its ``source`` is a benchmark's own (``source_filter``) or when any checked text matches a
benchmark question (:mod:`~notus_data.decontamination.matchers`). Every removed row gets one evidence row
(:data:`EVIDENCE_SCHEMA`): where it was found, the text, the benchmark, the matched question, the method and the
score. Identical texts (a prompt repeated as the first user turn) are matched once.

>>> import pyarrow as pa
>>> from notus_data.decontamination.index import BenchmarkQuestion, DecontaminationIndex
>>> index = DecontaminationIndex.build([BenchmarkQuestion("truthfulqa", "Why do veins appear blue?")])
>>> table = pa.table({"prompt": ["Question: why do veins appear blue", "Write a poem."]})
>>> kept, evidence = decontaminate_table(table, index)
>>> kept.column("prompt").to_pylist(), evidence.column("method").to_pylist()
(['Write a poem.'], ['ngram'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontamination.benchmarks import (
    benchmark_sources_filter,
    build_index,
    load_questions,
    resolve_benchmarks,
)
from notus_data.decontamination.index import DecontaminationIndex
from notus_data.decontamination.matchers import METHODS, match_texts
from notus_data.decontamination.options import DecontaminateOptions
from notus_data.errors import SchemaError

#: Removal methods in the order they are tried and reported: the source filter, then the matchers.
ALL_METHODS = ("source", *METHODS)
EVIDENCE_SCHEMA = pa.schema(
    [
        ("row_index", pa.int64()),  # position of the row in the input
        ("prompt_id", pa.string()),  # the input's prompt_id, or the sha256 hex of its prompt
        ("source", pa.string()),  # the row's source (null where the input has none)
        (
            "field",
            pa.string(),
        ),  # where the match is: "instruction", "prompt", "chosen[0]", "completions[2]", ...
        ("text", pa.string()),  # the text that matched
        ("benchmark", pa.string()),
        ("question", pa.string()),  # the matched benchmark question (null: removed by source, no text match)
        ("question_id", pa.string()),  # its id in the benchmark ("81/turn-2": MT-Bench 81's second turn)
        ("method", pa.string()),  # one of ALL_METHODS
        (
            "score",
            pa.float64(),
        ),  # 1.0 for exact/normalized, coverage or similarity otherwise; null for source
    ]
)
PROMPT_COLUMNS = ("instruction", "prompt")
MESSAGE_COLUMNS = ("prompt", "chosen", "rejected", "messages")
RESPONSE_COLUMNS = ("chosen_response", "rejected_response", "chosen", "rejected", "response", "completion")


@dataclass
class _Texts:
    """Texts to check: the field each comes from, the row it belongs to, and the text."""

    field: list[str]
    field_id: np.ndarray
    row: np.ndarray
    text: pa.Array


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_messages(t: pa.DataType) -> bool:
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return False
    item = t.value_type
    return pa.types.is_struct(item) and {"content", "role"} <= {f.name for f in item}


def _array(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def check_columns(schema: pa.Schema, options: DecontaminateOptions, origin: str = "input") -> list[str]:
    """The columns the step will read, or a :class:`SchemaError` naming what is missing and the fix."""
    names = schema.names
    if options.text_columns:
        missing = [c for c in options.text_columns if c not in names]
        if missing:
            raise SchemaError(f"{origin}: text_columns {missing} not found; the input has columns {names}")
        bad = [
            c
            for c in options.text_columns
            if not (_is_text(schema.field(c).type) or _is_messages(schema.field(c).type))
        ]
        if bad:
            raise SchemaError(
                f"{origin}: text_columns {bad} are neither text nor message lists "
                f"({', '.join(str(schema.field(c).type) for c in bad)})"
            )
        return list(options.text_columns)
    used = [c for c in PROMPT_COLUMNS if c in names and _is_text(schema.field(c).type)]
    used += [c for c in MESSAGE_COLUMNS if c in names and _is_messages(schema.field(c).type)]
    if not used:
        raise SchemaError(
            f"{origin}: no text to check: expected a text column 'instruction' or 'prompt', or message lists "
            f"'chosen' / 'rejected' / 'messages'; the input has columns {names}; name the columns with --text-columns"
        )
    if options.check_responses:
        used += [
            c for c in RESPONSE_COLUMNS if c in names and _is_text(schema.field(c).type) and c not in used
        ]
        if "completions" in names:
            used.append("completions")
    return used


def collect_texts(table: pa.Table, options: DecontaminateOptions) -> _Texts:
    """Every text of ``table`` to check, with its field and row (see the module docstring)."""
    fields: list[str] = []
    field_id, rows, texts = [], [], []

    def add(label: str, row: np.ndarray, values: pa.Array) -> None:
        if not len(values):
            return
        field_id.append(np.full(len(values), len(fields), dtype=np.int64))
        fields.append(label)
        rows.append(row)
        texts.append(values.cast(pa.string()))

    roles = ["user", "assistant"] if options.check_responses else ["user"]
    for name in check_columns(table.schema, options):
        kind = table.schema.field(name).type
        if name == "completions":
            _add_completions(table, add)
        elif _is_messages(kind):
            _add_messages(table, name, roles, add)
        else:
            add(name, np.arange(table.num_rows, dtype=np.int64), _array(table, name))
    if not texts:
        return _Texts([], np.zeros(0, np.int64), np.zeros(0, np.int64), pa.array([], pa.string()))
    return _Texts(fields, np.concatenate(field_id), np.concatenate(rows), pa.concat_arrays(texts))


def _add_messages(table: pa.Table, name: str, roles: list[str], add) -> None:
    lists = _array(table, name)
    parents = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    flat = lists.flatten()
    offsets = lists.offsets.to_numpy()
    position = np.arange(len(flat)) - (offsets[parents] - offsets[0])
    content, role = flat.field("content"), flat.field("role")
    wanted = pc.is_in(role, value_set=pa.array(roles)).to_numpy(zero_copy_only=False) & ~np.asarray(
        pc.is_null(role).to_numpy(zero_copy_only=False), dtype=bool
    )
    for turn in np.unique(position[wanted]).tolist():
        pick = np.flatnonzero(wanted & (position == turn))
        add(f"{name}[{turn}]", parents[pick], content.take(pa.array(pick)))


def _add_completions(table: pa.Table, add) -> None:
    lists = _array(table, "completions")
    if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)):
        return
    item = lists.type.value_type
    if not pa.types.is_struct(item) or "response" not in {f.name for f in item}:
        return
    parents = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    offsets = lists.offsets.to_numpy()
    position = np.arange(len(parents)) - (offsets[parents] - offsets[0])
    responses = lists.flatten().field("response")
    if not _is_text(responses.type):
        return
    for k in np.unique(position).tolist():
        pick = np.flatnonzero(position == k)
        add(f"completions[{k}]", parents[pick], responses.take(pa.array(pick)))


def _row_column(table: pa.Table, name: str, fallback: pa.Array) -> pa.Array:
    if name in table.schema.names and _is_text(table.schema.field(name).type):
        return _array(table, name).cast(pa.string())
    return fallback


def find_contamination(
    table: pa.Table,
    index: DecontaminationIndex,
    options: DecontaminateOptions | None = None,
    *,
    row_offset: int = 0,
) -> tuple[np.ndarray, pa.Table]:
    """(keep mask over the rows, evidence table with one row per removed row, in row order)."""
    options = options or DecontaminateOptions()
    n = table.num_rows
    texts = collect_texts(table, options)
    # Match each distinct text once.
    encoded = pc.dictionary_encode(texts.text)
    uniques = encoded.dictionary
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    found = match_texts(uniques, index, options.match_settings())
    by_unique = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the extra slot answers code -1 (a null text)
    by_unique[found.row] = np.arange(len(found.row))
    match_of_text = by_unique[codes]
    hit = np.flatnonzero(match_of_text >= 0)
    which = match_of_text[hit]
    method_rank = np.array([ALL_METHODS.index(m) for m in found.method[which]], dtype=np.int64)
    scores = found.score[which]
    # Best match per row: strictest method, then highest score, then first field, then first text.
    order = np.lexsort((hit, texts.field_id[hit], -scores, method_rank, texts.row[hit]))
    best_text = np.full(n, -1, dtype=np.int64)
    best_match = np.full(n, -1, dtype=np.int64)
    rows_sorted = texts.row[hit][order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = rows_sorted[1:] != rows_sorted[:-1]
    best_text[rows_sorted[first]] = hit[order][first]
    best_match[rows_sorted[first]] = which[order][first]

    source = _row_column(table, "source", pa.nulls(n, pa.string()))
    by_source = benchmark_sources_filter(options.benchmark) if options.source_filter else {}
    source_hit = np.zeros(n, dtype=bool)
    source_bench = np.array([None] * n, dtype=object)
    if by_source:
        source_hit = pc.fill_null(pc.is_in(source, value_set=pa.array(list(by_source))), False).to_numpy(
            zero_copy_only=False
        )
        if source_hit.any():
            names = source.take(pa.array(np.flatnonzero(source_hit))).to_pylist()
            source_bench[source_hit] = [by_source[s] for s in names]
    removed = source_hit | (best_match >= 0)
    keep = ~removed
    rows = np.flatnonzero(removed)
    evidence = _evidence(
        table, texts, found, index, rows, best_text, best_match, source, source_hit, source_bench
    )
    if "row_index" in table.schema.names and pa.types.is_integer(table.schema.field("row_index").type):
        row_index = _array(table, "row_index").take(pa.array(rows)).cast(pa.int64())
    else:
        row_index = pa.array(rows + row_offset, pa.int64())
    evidence = evidence.set_column(0, "row_index", row_index)
    return keep, evidence


def _evidence(
    table, texts, found, index, rows, best_text, best_match, source, source_hit, source_bench
) -> pa.Table:
    n_rm = len(rows)
    t = best_text[rows]
    m = best_match[rows]
    matched = m >= 0
    field = np.array([None] * n_rm, dtype=object)
    field[matched] = np.array(texts.field, dtype=object)[texts.field_id[t[matched]]]
    text = (
        texts.text.take(pa.array(np.where(matched, t, 0))) if len(texts.text) else pa.nulls(n_rm, pa.string())
    )
    text = pc.if_else(pa.array(matched), text, pa.nulls(n_rm, pa.string()))
    question = np.array([None] * n_rm, dtype=object)
    question_id = np.array([None] * n_rm, dtype=object)
    bench = np.array([None] * n_rm, dtype=object)
    method = np.array([None] * n_rm, dtype=object)
    score = np.full(n_rm, np.nan)
    q = found.question[m[matched]]
    question[matched] = np.array(index.questions, dtype=object)[q]
    question_id[matched] = np.array(index.ids, dtype=object)[q]
    bench[matched] = np.array(index.benchmarks, dtype=object)[q]
    method[matched] = found.method[m[matched]]
    score[matched] = found.score[m[matched]]
    by_source = source_hit[rows]
    method[by_source] = "source"
    score[by_source] = np.nan
    bench[by_source] = source_bench[rows][by_source]
    # A row removed by its source alone shows its prompt as the text.
    unmatched = by_source & ~matched
    if unmatched.any():
        prompt = _first_prompt(table)
        if prompt is not None:
            fill = prompt.take(pa.array(rows))
            text = pc.if_else(pa.array(unmatched), fill, text)
            field[unmatched] = _first_prompt_name(table)
    prompt_ids = _prompt_ids(table, rows)
    return pa.table(
        {
            "row_index": pa.array(rows, pa.int64()),
            "prompt_id": prompt_ids,
            "source": source.take(pa.array(rows)),
            "field": pa.array(field.tolist(), pa.string()),
            "text": text.cast(pa.string()),
            "benchmark": pa.array(bench.tolist(), pa.string()),
            "question": pa.array(question.tolist(), pa.string()),
            "question_id": pa.array(question_id.tolist(), pa.string()),
            "method": pa.array(method.tolist(), pa.string()),
            "score": pa.array(score, pa.float64(), mask=np.isnan(score)),
        },
        schema=EVIDENCE_SCHEMA,
    )


def _first_prompt_name(table: pa.Table) -> str | None:
    for name in PROMPT_COLUMNS:
        if name in table.schema.names and _is_text(table.schema.field(name).type):
            return name
    return None


def _first_prompt(table: pa.Table) -> pa.Array | None:
    name = _first_prompt_name(table)
    return None if name is None else _array(table, name).cast(pa.string())


def _prompt_ids(table: pa.Table, rows: np.ndarray) -> pa.Array:
    if "prompt_id" in table.schema.names and _is_text(table.schema.field("prompt_id").type):
        return _array(table, "prompt_id").take(pa.array(rows)).cast(pa.string())
    prompt = _first_prompt(table)
    if prompt is None:
        return pa.nulls(len(rows), pa.string())
    from notus_data.schema import sha256_hex

    return sha256_hex(prompt.take(pa.array(rows)))


def decontaminate_table(
    table: pa.Table,
    index: DecontaminationIndex,
    options: DecontaminateOptions | None = None,
    *,
    row_offset: int = 0,
) -> tuple[pa.Table, pa.Table]:
    """Split ``table`` into (kept rows, evidence of the removed rows); a pure function of its arguments.

    ``row_offset`` is the position of the table's first row in the whole input (for the evidence's
    ``row_index`` where the table has no ``row_index`` column).
    """
    keep, evidence = find_contamination(table, index, options, row_offset=row_offset)
    return table.filter(pa.array(keep)), evidence


def load_index(options: DecontaminateOptions) -> tuple[DecontaminationIndex, list[dict[str, Any]]]:
    """Load the benchmarks of ``options`` (Hub or files, through the cache) and build their index; returns the
    index and a description of each benchmark source (name, origin, questions)."""
    sources = resolve_benchmarks(
        options.benchmark,
        options.benchmark_file,
        column=options.benchmark_column,
        split=options.benchmark_split,
        bundled=options.bundled,
    )
    questions, sources_info = load_questions(
        sources, cache=options.index_cache, explicit_column=options.benchmark_column is not None
    )
    return build_index(questions, cache=options.index_cache), sources_info


def describe_index(
    index: DecontaminationIndex, options: DecontaminateOptions, sources_info: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a run removes against: the benchmarks, their question counts, the index hash, the methods."""
    return {
        "benchmarks": sources_info
        or [
            {
                "name": b,
                "questions": len({i for n, i in zip(index.benchmarks, index.ids, strict=True) if n == b}),
            }
            for b in dict.fromkeys(index.benchmarks)
        ],
        "questions": len(set(zip(index.benchmarks, index.ids, strict=True))),
        "index_hash": index.content_hash[:16],
        "source_filter": sorted(benchmark_sources_filter(options.benchmark)) if options.source_filter else [],
        "methods": list(options.methods),
    }
