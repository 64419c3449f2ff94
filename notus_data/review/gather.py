"""Gather the prompts of a flagged file: each flagged prompt with every completion of it, for prompt-level review.

The flagged file (``notus-data flag``) holds only the flagged completions. The others of each prompt come from the
data it was flagged from: the ``data`` option, else the ``input`` its report (``FLAGGED.report.json``) names. A
prompt whose completions in that data are not the flagged text (another file or version) is shown with its flagged
completions only (``data_differs``), as is every prompt when no data is found (``without_data``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.io import iter_table_batches, load_ultrafeedback, read_table, report_path
from notus_data.schema import ASPECTS
from notus_data.steps.flag import FLAGGED_SCHEMA, rating_as_score
from notus_data.steps.score import score_table


def data_of(flagged: str | os.PathLike, data: Any = None) -> tuple[Any, str | None]:
    """(the data the flagged file came from, its revision): ``data`` when given, else the one its report names
    (when that path exists), else (None, None)."""
    if data is not None:
        return data, None
    path = report_path(flagged)
    if not Path(path).exists():
        return None, None
    info = json.loads(Path(path).read_text()).get("info", {})
    source = info.get("input")
    if isinstance(source, str) and Path(source).exists():
        return source, info.get("revision")
    return None, None


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _data_rows(data: Any, revision: str | None, rows: set[int]) -> dict[int, dict[str, Any]]:
    """row_index -> {completions with avg_rating} for the wanted rows of ``data`` (read batch by batch)."""
    out: dict[int, dict[str, Any]] = {}
    if not rows:
        return out
    wanted = pa.array(sorted(rows), pa.int64())
    for batch in load_ultrafeedback(data, revision=revision, with_critique=True).iter_batches():
        keep = batch.filter(pc.is_in(batch.column("row_index"), value_set=wanted))
        if not keep.num_rows:
            continue
        scored = score_table(keep)
        for r in scored.select(["row_index", "completions", "avg_rating"]).to_pylist():
            out[r["row_index"]] = r
        if len(out) == len(rows):
            break
    return out


def _rationale(annotations: Any, aspect: str) -> str | None:
    value = (annotations or {}).get(aspect)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return None
    return value.get("Rationale For Rating") or value.get("Rationale")


def _rationales(data: Any, rows: set[int]) -> dict[int, list[tuple[str | None, dict[str, str | None]]]]:
    """row position -> per completion (response sha256, {aspect: rationale}), from a local raw file's
    ``completions[].annotations`` (the canonical table keeps only the ratings); empty for other inputs."""
    if not isinstance(data, (str, os.PathLike)) or not Path(data).exists() or not rows:
        return {}
    out: dict[int, list] = {}
    offset = 0
    try:
        for batch in iter_table_batches(data, ["completions"]):
            wanted = [r - offset for r in rows if offset <= r < offset + batch.num_rows]
            if wanted:
                picked = batch.column("completions").take(pa.array(wanted, pa.int64())).to_pylist()
                for position, completions in zip(wanted, picked, strict=True):
                    out[position + offset] = [
                        (
                            _sha((c or {}).get("response")),
                            {a: _rationale((c or {}).get("annotations"), a) for a in ASPECTS},
                        )
                        for c in completions or []
                    ]
            offset += batch.num_rows
    except Exception:  # a layout the raw reader does not know: the page shows the ratings without rationales
        return {}
    return out


def gather_prompts(flagged: pa.Table, data: Any = None, revision: str | None = None) -> tuple[list, dict]:
    """(prompts, counts): one prompt per flagged row, in file order (dicts for
    :func:`notus_data.review.prompts.build_prompt_record`, plus ``row_index`` and ``flagged``: the positions of
    its flagged completions in ``flagged``); counts ``without_data`` and ``data_differs`` prompts."""
    flagged = flagged.select(FLAGGED_SCHEMA.names)
    rows = flagged.to_pylist()
    by_row: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        by_row.setdefault(r["row_index"], []).append(i)
    full = _data_rows(data, revision, set(by_row)) if data is not None else {}
    why = _rationales(data, set(by_row))
    counts = {"without_data": 0, "data_differs": 0}
    prompts = []
    for row_index, at in by_row.items():
        first = rows[at[0]]
        mine = {rows[i]["completion_index"]: rows[i] for i in at}
        completions = None
        source_row = full.get(row_index)
        if source_row is not None:
            completions = []
            for index, (c, avg) in enumerate(
                zip(source_row["completions"], source_row["avg_rating"], strict=True)
            ):
                f = mine.get(index)
                sha = _sha(c["response"])
                if f is not None and f["response_sha256"] != sha:
                    completions = None
                    break
                on_scale = None if avg is None else float(rating_as_score(np.array(avg)))
                raw = why.get(row_index, [])
                rationales = raw[index][1] if index < len(raw) and raw[index][0] == sha else {}
                completions.append(
                    {
                        **c,
                        "rationales": rationales,
                        "index": index,
                        "avg_rating": avg,
                        "rating_as_score": on_scale,
                        "response_sha256": sha,
                        "reasons": f["reasons"] if f else None,
                        "suggested_score": f["suggested_score"] if f else None,
                        "score_gap": f["score_gap"] if f else None,
                    }
                )
            if completions is None or set(mine) - set(range(len(completions))):
                counts["data_differs"] += 1
                completions = None
        else:
            counts["without_data"] += 1
        if completions is None:
            completions = [
                {
                    **{k: f[k] for k in ("model", "response", "critique", "overall_score")},
                    "index": f["completion_index"],
                    "avg_rating": f["avg_rating"],
                    "rating_as_score": f["rating_as_score"],
                    "response_sha256": f["response_sha256"],
                    "reasons": f["reasons"],
                    "suggested_score": f["suggested_score"],
                    "score_gap": f["score_gap"],
                }
                for f in (rows[i] for i in at)
            ]
        prompts.append(
            {
                "prompt_id": first["prompt_id"],
                "row_index": row_index,
                "source": first["source"],
                "instruction": first["instruction"],
                "completions": completions,
                "flagged": at,
            }
        )
    return prompts, counts


def flagged_table(path: str | os.PathLike) -> pa.Table:
    """The flagged file's columns, whole (one row per flagged completion: small beside the data)."""
    return read_table(path, columns=FLAGGED_SCHEMA.names)
