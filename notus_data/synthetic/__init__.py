"""Synthetic rows in the raw openbmb/UltraFeedback schema, for tests, benchmarks and offline demos.

The real data set cannot be downloaded here, so this module writes look-alike rows in the EXACT raw schema
(:data:`RAW_SCHEMA`, not the canonical one): the nine sources in the published proportions, four completions
a row from the 17 real model names, ratings as strings "1".."5" correlated with a latent quality per
completion, an ``overall_score`` (1-10, steps of 0.5) that agrees with the ratings only loosely, and text of
realistic length built from a 50,000-word Zipf vocabulary (about 9 KB a row as parquet).

With ``edge_cases=True``, fixed row positions (:func:`edge_case_rows`: every kind once within rows 0-299 of
each 1,000, and again 500 rows later) carry the known pitfalls of the real data (:data:`EDGE_CASES`): "N/A"
and invalid ratings, ties, rows with 0 or 1 completion, the critique-score bug, nulls, non-ASCII text,
duplicate responses, TruthfulQA questions inside other sources. ``truthful_qa`` rows (1.3% of rows) always
hold real TruthfulQA questions (:data:`TRUTHFULQA_QUESTIONS`).

Deterministic: row ``i`` depends only on ``(seed, i)`` and the switches, never on ``batch_size`` or
``n_rows`` (rows are made in fixed blocks of :data:`BLOCK_ROWS`, each with its own seeded generator), so the
first 400 rows of a full-size run are the 400-row sample; rows that are not edge cases are the same with
``edge_cases`` on or off.

>>> table = next(generate(8, seed=1))
>>> table.schema.equals(RAW_SCHEMA), table.num_rows
(True, 8)
>>> len(table.column("completions")[0])   # row 0 is an ordinary 4-completion row
4

Command line (a thin wrapper over :func:`write_parquet` / :func:`write_jsonl`)::

    python -m notus_data.synthetic --rows 63967 --seed 0 --output ultrafeedback-synthetic.parquet
"""

from __future__ import annotations

import argparse

from notus_data.errors import OptionError
from notus_data.synthetic.files import generate, write_jsonl, write_parquet
from notus_data.synthetic.schema import (
    ASPECTS,
    EDGE_CASES,
    EDGE_PERIOD,
    MODELS,
    PRINCIPLES,
    RAW_SCHEMA,
    SOURCES,
    TRUTHFULQA_QUESTIONS,
    edge_case_rows,
    raw_schema,
)

__all__ = [
    "ASPECTS",
    "EDGE_CASES",
    "EDGE_PERIOD",
    "MODELS",
    "PRINCIPLES",
    "RAW_SCHEMA",
    "SOURCES",
    "TRUTHFULQA_QUESTIONS",
    "edge_case_rows",
    "generate",
    "main",
    "raw_schema",
    "write_jsonl",
    "write_parquet",
]


def main(argv: list[str] | None = None) -> None:
    """Write synthetic openbmb/UltraFeedback rows: parquet, or JSON Lines for a .jsonl/.json output."""
    parser = argparse.ArgumentParser(prog="python -m notus_data.synthetic", description=main.__doc__)
    parser.add_argument(
        "--rows",
        "--n-rows",
        dest="n_rows",
        type=int,
        required=True,
        help="number of rows (the real data: 63,967)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--output", required=True, help="output file: .parquet, or .jsonl/.json for JSON Lines"
    )
    parser.add_argument("--no-edge-cases", dest="edge_cases", action="store_false", help="no edge-case rows")
    parser.add_argument("--aspect-as-list", action="store_true", help="write each aspect as a one-item list")
    parser.add_argument("--drop-fine-grained", action="store_true", help="leave out fine-grained_score")
    args = parser.parse_args(argv)
    write = write_jsonl if args.output.endswith((".jsonl", ".json")) else write_parquet
    try:
        path = write(args.output, args.n_rows, seed=args.seed, edge_cases=args.edge_cases,
                     aspect_as_list=args.aspect_as_list, drop_fine_grained=args.drop_fine_grained)  # fmt: skip
    except OptionError as exc:
        parser.error(str(exc))
    print(f"wrote {args.n_rows:,} rows to {path}")
