"""The join of ``explain``: every pair of OURS and every row of PUBLISHED, matched on the normalized prompt, each
with a category and a reason (:data:`REASONS`).

Matching (vectorized, no loop over rows): a pair of OURS and a row of PUBLISHED match when their prompts have the
same key (:func:`~notus_data.steps.trace.text_keys`); where a prompt has several copies on a side, copies with the
same chosen response are matched first, then the rest in row order. A copy left over is a ``duplicate_prompt``.

When OURS was binarized afresh, the trace of every input row (:mod:`notus_data.steps.trace`) says why a prompt is
only in PUBLISHED (our step and its reason, or absent from our input), and where a matched pair differs it finds
the published chosen and rejected responses among the prompt's completions in our input, with our score of each.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.schema import list_parts

CATEGORIES = (
    "same_pair",
    "same_chosen_different_draw",
    "different_chosen",
    "only_ours",
    "only_published",
    "neither",
)
#: category -> reason -> what it means (the README and docs/explain.md say the same).
REASONS = {
    "same_pair": {"same_pair": "the same chosen and the same rejected response"},
    "same_chosen_different_draw": {
        "another_candidate": "the published rejected is another completion scoring below the chosen: a different draw",
        "published_rejected_ties": "the published rejected scores the same as the chosen (a tie kept)",
        "rejected_not_in_our_completions": "the published rejected is none of the prompt's completions in our input",
        "another_rejected": "a different rejected response (OURS is pairs: no completions to look it up in)",
    },
    "different_chosen": {
        "tied_top": "the published chosen ties our chosen for the top score: the other of the tied ones was taken",
        "lower_by_our_score": "the published chosen scores lower than ours by our score",
        "higher_by_our_score": "the published chosen scores higher than ours by our score",
        "unscored_by_us": "the published chosen has no usable score in our input",
        "chosen_not_in_our_completions": "the published chosen is none of the prompt's completions in our input",
        "chosen_differs": "a different chosen response (OURS is pairs: compare the two sides' scores)",
    },
    "only_ours": {
        "duplicate_prompt": "PUBLISHED has this prompt, but fewer copies of it",
        "source_absent": "PUBLISHED has no prompt at all of this source (the whole source left)",
        "no_lower": "nothing scores below our chosen: both rules drop it (our strategy keeps ties)",
        "tie_partner": "our chosen has a tie partner: rule (b) drops such a pair when its draw ties (t/k)",
        "no_rule": "neither rule drops it (a lower completion and no tie for the top): removed for another reason",
        "not_in_published": "not in PUBLISHED (OURS is pairs: no tie structure to test)",
        "unreadable_pair": "our row is no pair (see problem)",
    },
    "only_published": {
        "unreadable_pair": "the published row is no pair (see problem)",
        "duplicate_prompt": "we have this prompt, but fewer copies of it",
        "removed_by_ours": "our step our_step removed the prompt with reason our_reason",
        "absent_from_our_input": "the prompt is not in our input",
        "absent_from_our_output": "the prompt is not in OURS (pairs: the input is unknown)",
    },
    "neither": {
        "removed_by_ours": "our step removed it and PUBLISHED does not have it either",
        "duplicate_prompt": "our step removed this copy; PUBLISHED has the prompt (matched with another copy)",
    },
}
ATTRIBUTION_SCHEMA = pa.schema(
    [
        ("category", pa.string()),
        ("reason", pa.string()),
        ("prompt", pa.string()),
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("ours_split", pa.string()),  # "input" where OURS was binarized afresh, else the split of OURS
        ("ours_row", pa.int64()),  # OURS read afresh: the input's row_index; OURS pairs: the row in its split
        ("published_split", pa.string()),
        ("published_row", pa.int64()),
        ("our_step", pa.string()),
        ("our_reason", pa.string()),
        ("problem", pa.string()),  # why a row is no pair (unreadable_pair)
        ("ours_chosen_score", pa.float64()),
        ("ours_rejected_score", pa.float64()),
        ("published_chosen_score", pa.float64()),  # as PUBLISHED states them
        ("published_rejected_score", pa.float64()),
        ("published_chosen_our_score", pa.float64()),  # our score of the published chosen, in our input
        ("published_rejected_our_score", pa.float64()),
        ("tie_partners", pa.int64()),  # completions tying our top score, besides the chosen
        ("others", pa.int64()),  # scorable completions besides the chosen
    ]
)


def _ranks(*columns: np.ndarray) -> np.ndarray:
    """The rank of each row among the rows with the same values in ``columns``, in row order."""
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort(columns[::-1])  # stable: equal rows stay in row order
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for column in columns:
        ordered = column[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    starts = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    ranks = np.empty(n, np.int64)
    ranks[order] = np.arange(n) - starts
    return ranks


def match(left: list[np.ndarray], right: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in left, in right) of the rows with equal columns, the k-th copy with the k-th copy."""
    names = [f"k{i}" for i in range(len(left))]
    lt = pa.table({**dict(zip(names, left, strict=True)), "r": _ranks(*left), "li": np.arange(len(left[0]))})
    rt = pa.table(
        {**dict(zip(names, right, strict=True)), "r": _ranks(*right), "ri": np.arange(len(right[0]))}
    )
    joined = lt.join(rt, keys=[*names, "r"], join_type="inner")
    li, ri = joined.column("li").to_numpy(), joined.column("ri").to_numpy()
    order = np.argsort(li, kind="stable")
    return li[order].astype(np.int64), ri[order].astype(np.int64)


def column_numpy(table: pa.Table, name: str, fill: float | int | None = None) -> np.ndarray:
    column = table.column(name)
    if fill is not None:
        column = pc.fill_null(column, fill)
    return column.to_numpy()


def locate(
    trace: pa.Table, rows: np.ndarray, targets: np.ndarray, prefer: str = "max"
) -> tuple[np.ndarray, np.ndarray]:
    """Our score of the completion of trace row ``rows[i]`` whose text key is ``targets[i]``, and whether one
    is (NaN: none is, or it has no score). A text found several times among a row's completions takes its highest
    score (``prefer="max"``, for a chosen) or its lowest (``"min"``, for a rejected)."""
    lengths, starts, flat = list_parts(trace.column("texts").combine_chunks())
    keys = flat.to_numpy(zero_copy_only=False)
    scores = list_parts(trace.column("scores").combine_chunks())[2].to_numpy(zero_copy_only=False)
    size, begin = lengths[rows], starts[rows]
    group = np.repeat(np.arange(len(rows)), size)
    at = np.repeat(begin, size) + np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    equal = keys[at] == np.repeat(targets, size)
    found = np.zeros(len(rows), dtype=bool)
    found[group[equal]] = True
    out = np.full(len(rows), np.nan)
    (np.fmax if prefer == "max" else np.fmin).at(out, group[equal], scores[at[equal]].astype(np.float64))
    return out, found


def _part(n: int, **columns: object) -> pa.Table:
    """Attribution rows: the given columns, nulls elsewhere."""
    arrays = []
    for f in ATTRIBUTION_SCHEMA:
        value = columns.get(f.name)
        if value is None:
            value = pa.nulls(n, f.type)
        elif isinstance(value, str):
            value = pa.array([value] * n, f.type)
        elif isinstance(value, np.ndarray):
            value = pa.array(value, f.type, from_pandas=True)  # NaN and None -> null
        elif isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        arrays.append(value.cast(f.type))
    return pa.Table.from_arrays(arrays, schema=ATTRIBUTION_SCHEMA)


def _pick(reasons: list[tuple[np.ndarray, str]], n: int) -> np.ndarray:
    """The first reason whose mask holds, per row."""
    out = np.full(n, None, dtype=object)
    for mask, reason in reasons:
        out[(out == None) & mask] = reason  # noqa: E711  (elementwise)
    return out


def _side_columns(side: pa.Table, idx: np.ndarray, prefix: str) -> dict[str, object]:
    rows = side.select(["split", "row", "chosen_score", "rejected_score"]).take(pa.array(idx, pa.int64()))
    columns: dict[str, object] = {
        f"{prefix}_chosen_score": rows.column("chosen_score"),
        f"{prefix}_rejected_score": rows.column("rejected_score"),
    }
    if prefix == "ours":
        columns.update(ours_split=rows.column("split"), ours_row=rows.column("row"))
    else:
        columns.update(published_split=rows.column("split"), published_row=rows.column("row"))
    return columns


def _texts(side: pa.Table, idx: np.ndarray) -> dict[str, object]:
    rows = side.select(["prompt", "prompt_id", "source"]).take(pa.array(idx, pa.int64()))
    return {
        "prompt": rows.column("prompt"),
        "prompt_id": rows.column("prompt_id"),
        "source": rows.column("source"),
    }


def _trace_columns(trace: pa.Table, positions: np.ndarray) -> dict[str, object]:
    rows = trace.select(["tie_partners", "others", "step", "reason"]).take(pa.array(positions, pa.int64()))
    return {name: rows.column(name) for name in ("tie_partners", "others")} | {
        "our_step": rows.column("step"),
        "our_reason": rows.column("reason"),
    }


def attribute(
    ours: pa.Table, published: pa.Table, trace: pa.Table | None = None, removed: pa.Table | None = None
) -> pa.Table:
    """One attribution row per pair of OURS, per row of PUBLISHED and (with ``trace``) per input row that gave no
    pair: matched rows once, each with its category and reason (:data:`REASONS`), sorted by OURS row, then by
    PUBLISHED split and row. ``ours`` and ``published`` are side tables
    (:data:`~notus_data.jobs.explain_read.SIDE_SCHEMA`); ``trace`` is sorted by ``row_index``; ``removed``
    (prompt_id) are the prompts a pairs OURS lost to its decontamination."""
    o_ok = np.flatnonzero(pc.is_null(ours.column("problem")).to_numpy(zero_copy_only=False))
    p_ok = np.flatnonzero(pc.is_null(published.column("problem")).to_numpy(zero_copy_only=False))
    ok, pk = column_numpy(ours, "key", 0), column_numpy(published, "key", 0)
    oc, pcs = column_numpy(ours, "chosen", 0), column_numpy(published, "chosen", 0)
    li, ri = match([ok[o_ok], oc[o_ok]], [pk[p_ok], pcs[p_ok]])
    o_rest, p_rest = np.setdiff1d(np.arange(len(o_ok)), li), np.setdiff1d(np.arange(len(p_ok)), ri)
    li2, ri2 = match([ok[o_ok][o_rest]], [pk[p_ok][p_rest]])
    mo = np.concatenate([o_ok[li], o_ok[o_rest[li2]]])
    mp = np.concatenate([p_ok[ri], p_ok[p_rest[ri2]]])
    order = np.argsort(mo, kind="stable")
    mo, mp = mo[order], mp[order]
    parts = []

    # --- on both sides
    same_chosen = oc[mo] == pcs[mp]
    same_rejected = column_numpy(ours, "rejected", 0)[mo] == column_numpy(published, "rejected", 0)[mp]
    cols = {
        **_texts(ours, mo),
        **_side_columns(ours, mo, "ours"),
        **_side_columns(published, mp, "published"),
    }
    if trace is not None:
        tpos = np.searchsorted(column_numpy(trace, "row_index"), column_numpy(ours, "row")[mo])
        chosen_ours, c_found = locate(trace, tpos, pcs[mp])
        rejected_ours, r_found = locate(trace, tpos, column_numpy(published, "rejected", 0)[mp], "min")
        top = column_numpy(ours, "chosen_score", np.nan)[mo]
        reason = _pick(
            [
                (same_chosen & same_rejected, "same_pair"),
                (same_chosen & ~r_found, "rejected_not_in_our_completions"),
                (same_chosen & (rejected_ours == top), "published_rejected_ties"),
                (same_chosen, "another_candidate"),
                (~c_found, "chosen_not_in_our_completions"),
                (np.isnan(chosen_ours), "unscored_by_us"),
                (chosen_ours == top, "tied_top"),
                (chosen_ours < top, "lower_by_our_score"),
                (np.ones(len(mo), bool), "higher_by_our_score"),
            ],
            len(mo),
        )
        cols |= _trace_columns(trace, tpos) | {"our_step": None, "our_reason": None}
        cols |= {"published_chosen_our_score": chosen_ours, "published_rejected_our_score": rejected_ours}
    else:
        reason = _pick([(same_chosen & same_rejected, "same_pair"), (same_chosen, "another_rejected"),
                        (np.ones(len(mo), bool), "chosen_differs")], len(mo))  # fmt: skip
    category = np.where(
        same_chosen & same_rejected,
        "same_pair",
        np.where(same_chosen, "same_chosen_different_draw", "different_chosen"),
    ).astype(object)
    parts.append(_part(len(mo), category=category, reason=reason, **cols))

    # --- only in OURS
    p_keys = np.unique(pk[p_ok])
    only_o = np.setdiff1d(o_ok, mo)
    o_problem = np.flatnonzero(~np.isin(np.arange(ours.num_rows), o_ok))
    absent = absent_sources(ours if trace is None else trace, published)
    source = np.asarray(ours.column("source").to_pylist(), dtype=object)[only_o]
    dup = np.isin(ok[only_o], p_keys)
    lost = np.isin(source, absent) if len(absent) else np.zeros(len(only_o), bool)
    cols = {**_texts(ours, only_o), **_side_columns(ours, only_o, "ours")}
    if trace is not None:
        tpos = np.searchsorted(column_numpy(trace, "row_index"), column_numpy(ours, "row")[only_o])
        ties = column_numpy(trace, "tie_partners", 0)[tpos]
        flat = ties >= column_numpy(trace, "others", 0)[tpos]
        reason = _pick([(dup, "duplicate_prompt"), (lost, "source_absent"), (flat, "no_lower"),
                        (ties > 0, "tie_partner"), (np.ones(len(only_o), bool), "no_rule")], len(only_o))  # fmt: skip
        cols |= _trace_columns(trace, tpos) | {"our_step": None, "our_reason": None}
    else:
        reason = _pick([(dup, "duplicate_prompt"), (lost, "source_absent"),
                        (np.ones(len(only_o), bool), "not_in_published")], len(only_o))  # fmt: skip
    parts.append(_part(len(only_o), category="only_ours", reason=reason, **cols))
    if len(o_problem):
        rows = ours.select(["problem"]).take(pa.array(o_problem))
        parts.append(_part(len(o_problem), category="only_ours", reason="unreadable_pair", problem=rows["problem"],
                           **_texts(ours, o_problem), **_side_columns(ours, o_problem, "ours")))  # fmt: skip

    # --- only in PUBLISHED
    only_p = np.setdiff1d(p_ok, mp)
    p_problem = np.flatnonzero(~np.isin(np.arange(published.num_rows), p_ok))
    if len(p_problem):
        rows = published.select(["problem"]).take(pa.array(p_problem))
        parts.append(_part(len(p_problem), category="only_published", reason="unreadable_pair",
                           problem=rows["problem"], **_texts(published, p_problem),
                           **_side_columns(published, p_problem, "published")))  # fmt: skip
    dup = np.isin(pk[only_p], ok[o_ok])
    cols = {**_texts(published, only_p), **_side_columns(published, only_p, "published")}
    used = np.zeros(0, np.int64)
    if trace is not None:
        unpaired = np.flatnonzero(column_numpy(trace, "n_pairs") == 0)
        tk = column_numpy(trace, "key", 0)
        free = ~dup
        li, ri = match([pk[only_p][free]], [tk[unpaired]])
        linked = np.full(len(only_p), -1, np.int64)
        linked[np.flatnonzero(free)[li]] = unpaired[ri]
        used = unpaired[ri]
        has = linked >= 0
        in_input = np.isin(pk[only_p], tk)
        reason = _pick([(dup, "duplicate_prompt"), (has, "removed_by_ours"), (in_input, "duplicate_prompt"),
                        (np.ones(len(only_p), bool), "absent_from_our_input")], len(only_p))  # fmt: skip
        safe = np.where(has, linked, 0)
        traced = _trace_columns(trace, safe)
        cols |= {name: pc.if_else(pa.array(has), values, pa.nulls(len(only_p), values.type))
                 for name, values in traced.items()}  # fmt: skip
        chosen_ours, _ = locate(trace, safe, column_numpy(published, "chosen", 0)[only_p])
        rejected_ours, _ = locate(trace, safe, column_numpy(published, "rejected", 0)[only_p], "min")
        cols |= {"published_chosen_our_score": np.where(has, chosen_ours, np.nan),
                 "published_rejected_our_score": np.where(has, rejected_ours, np.nan)}  # fmt: skip
        cols["ours_row"] = pa.array(np.where(has, column_numpy(trace, "row_index")[safe], 0), mask=~has)
        cols["ours_split"] = np.where(has, "input", None).astype(object)
    else:
        gone = np.zeros(len(only_p), bool)
        if removed is not None and removed.num_rows:
            gone = np.isin(np.asarray(published.column("prompt_id").to_pylist(), dtype=object)[only_p],
                           np.asarray(removed.column("prompt_id").to_pylist(), dtype=object))  # fmt: skip
        reason = _pick([(dup, "duplicate_prompt"), (gone, "removed_by_ours"),
                        (np.ones(len(only_p), bool), "absent_from_our_output")], len(only_p))  # fmt: skip
        cols |= {"our_step": np.where(gone, "decontaminate", None).astype(object),
                 "our_reason": np.where(gone, "decontaminated", None).astype(object)}  # fmt: skip
    parts.append(_part(len(only_p), category="only_published", reason=reason, **cols))

    # --- input rows without a pair that no published row was traced to
    if trace is not None:
        rest = np.setdiff1d(np.flatnonzero(column_numpy(trace, "n_pairs") == 0), used)
        rows = trace.select(["prompt", "prompt_id", "source", "row_index"]).take(pa.array(rest, pa.int64()))
        reason = np.where(
            np.isin(column_numpy(trace, "key", 0)[rest], p_keys), "duplicate_prompt", "removed_by_ours"
        )
        parts.append(_part(len(rest), category="neither", reason=reason.astype(object), prompt=rows["prompt"],
                           prompt_id=rows["prompt_id"], source=rows["source"], ours_split="input",
                           ours_row=rows["row_index"],
                           **_trace_columns(trace, rest)))  # fmt: skip
    table = pa.concat_tables(parts)
    last = np.iinfo(np.int64).max

    def split_order(name: str) -> np.ndarray:  # nulls last
        values = pc.fill_null(table[name], "\uffff").to_numpy(zero_copy_only=False)
        return np.unique(values, return_inverse=True)[1]

    order = np.lexsort(
        (
            column_numpy(table, "published_row", last),
            split_order("published_split"),
            column_numpy(table, "ours_row", last),
            split_order("ours_split"),
        )
    )
    return table.take(pa.array(order))


def absent_sources(rows: pa.Table, published: pa.Table) -> np.ndarray:
    """Sources of ``rows`` (ours, or the trace) of which PUBLISHED has no prompt: by PUBLISHED's own ``source``
    column where it has one; else by the prompts that only that source holds (a prompt copied into other sources
    may stay in PUBLISHED through a copy), none of which is in PUBLISHED."""
    sources = np.asarray(rows.column("source").to_pylist(), dtype=object)
    known = sources != None  # noqa: E711
    if not known.any():
        return np.zeros(0, dtype=object)
    names = np.unique(sources[known].astype(str))
    readable = published.filter(pc.is_null(published["problem"]))
    theirs = pc.drop_null(readable["source"]).to_pylist()
    if theirs:
        return np.setdiff1d(names, np.unique(np.asarray(theirs, dtype=str))).astype(object)
    keys = column_numpy(rows, "key", 0)
    code = np.unique(np.where(known, sources, "").astype(str), return_inverse=True)[1]
    pairs = np.unique(np.stack([keys[known], code[known]], axis=1), axis=0)
    owned, owners = np.unique(pairs[:, 0], return_counts=True)
    single = known & np.isin(keys, owned[owners == 1])
    present = np.isin(keys, column_numpy(readable, "key", 0))
    held = np.unique(sources[single].astype(str))
    kept = np.unique(sources[single & present].astype(str))
    return np.setdiff1d(held, kept).astype(object)
