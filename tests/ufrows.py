"""Builders of raw UltraFeedback-shaped rows for tests (the real schema, built in code)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")


def completion(
    response="a response",
    ratings=("4", "4", "4", "4"),
    overall=7.0,
    model="gpt-4",
    critique="Good answer.",
    fine=None,
    aspect_as_list=False,
):
    annotations = {}
    for aspect, rating in zip(ASPECTS, ratings, strict=True):
        if aspect in ("truthfulness", "helpfulness"):
            value = {"Type": ["0"], "Rationale": "r", "Rating": rating, "Rationale For Rating": "rr"}
        else:
            value = {"Rating": rating, "Rationale": "r"}
        annotations[aspect] = [value] if aspect_as_list else value
    out = {
        "model": model,
        "principle": "helpfulness",
        "custom_system_prompt": "",
        "response": response,
        "critique": critique,
        "overall_score": overall,
        "annotations": annotations,
    }
    if fine is not False:
        out["fine-grained_score"] = fine
    return out


def row(instruction, completions, source="evol_instruct"):
    return {
        "source": source,
        "instruction": instruction,
        "models": [c["model"] if c else None for c in completions] if completions is not None else None,
        "completions": completions,
        "correct_answers": ["None"],
        "incorrect_answers": ["None"],
    }


def rated(instruction, means, source="evol_instruct", overall=None, texts=None):
    """A row whose completions have all four ratings equal to the given means (as strings)."""
    comps = []
    for i, m in enumerate(means):
        ratings = ("N/A",) * 4 if m is None else (str(m),) * 4
        comps.append(
            completion(
                response=texts[i] if texts else f"{instruction} answer {i}",
                ratings=ratings,
                overall=(overall[i] if overall else 5.0),
                model=f"model-{i}",
            )
        )
    return row(instruction, comps, source=source)


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_parquet(path: Path, rows) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
