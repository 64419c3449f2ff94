"""Write data/ultrafeedback-sample.parquet: 400 openbmb/UltraFeedback-shaped rows that read like the real data.

    python data/make_sample.py            # rewrite the sample, print its size and edge-case rows
    python data/make_sample.py --check    # exit 1 if the committed sample differs from what the code makes

The structure, ratings, scores and planted edge cases come from :mod:`notus_data.synthetic` (seed 0); the text
from :mod:`notus_data.synthetic.readable`: real prompts and responses of trl-lib/ultrafeedback_binarized
(openbmb/UltraFeedback, MIT), read from ../shared/data/ultrafeedback-pairs/, with critiques and rationales written
to agree with the ratings. The file's schema metadata says all this (key ``notus_data``), so a card can tell a
reader the data is synthetic. data/README.md describes the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's notus_data, installed or not

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from notus_data import synthetic  # noqa: E402
from notus_data.synthetic.readable import readable  # noqa: E402

SAMPLE = HERE / "ultrafeedback-sample.parquet"
PAIRS = HERE.parent.parent / "shared" / "data" / "ultrafeedback-pairs"
ROWS, SEED = 400, 0
MAX_BYTES = 3_000_000
ORIGIN = {
    "synthetic": True,
    "description": "a synthetic stand-in for openbmb/UltraFeedback (train), 400 rows in its exact raw schema: "
    "structure, ratings, overall_scores and planted edge cases from notus_data.synthetic (seed 0); prompts and "
    "responses from trl-lib/ultrafeedback_binarized (openbmb/UltraFeedback, MIT), paired with synthetic ratings; "
    "critiques and rationales written to match the ratings; 20 real TruthfulQA questions (Apache-2.0)",
    "made_by": "python data/make_sample.py",
}


def pairs() -> list[dict]:
    if not PAIRS.is_dir():
        raise SystemExit(f"{PAIRS} is absent: the real prompts and responses come from there")
    rows = []
    for name in ("train_clean.jsonl", "eval_clean.jsonl"):
        with open(PAIRS / name, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    seen, out = set(), []
    for row in rows:  # one pair a prompt, both responses different and non-empty
        if row["prompt"] in seen or not row["chosen"].strip() or row["chosen"] == row["rejected"]:
            continue
        seen.add(row["prompt"])
        out.append(row)
    return out


def write(path: Path) -> Path:
    """Write the sample to ``path`` (the same call the committed file was made with)."""
    table = pa.concat_tables(synthetic.generate(ROWS, seed=SEED, edge_cases=True))
    table = readable(table, pairs(), seed=SEED, edge_rows=synthetic.edge_case_rows(ROWS))
    table = table.replace_schema_metadata({"notus_data": json.dumps(ORIGIN, sort_keys=True)})
    pq.write_table(table, path, compression="zstd", row_group_size=ROWS)
    return path


def same_rows(a, b) -> bool:
    """Whether two tables hold the same schema and values (NaN equal to NaN, unlike ``Table.equals``)."""
    return a.schema.equals(b.schema) and json.dumps(a.to_pylist()) == json.dumps(b.to_pylist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the committed sample with a fresh one")
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = pq.read_table(write(Path(tmp) / "sample.parquet"))
        same = SAMPLE.exists() and same_rows(pq.read_table(SAMPLE), fresh)
        print(f"{SAMPLE.name}: {'up to date' if same else 'OUT OF DATE: run python data/make_sample.py'}")
        return 0 if same else 1
    write(SAMPLE)
    size = SAMPLE.stat().st_size
    print(f"wrote {ROWS} rows (seed {SEED}) to {SAMPLE}: {size:,} bytes ({size / ROWS:,.0f} per row)")
    for kind, rows in synthetic.edge_case_rows(ROWS).items():
        print(f"  {kind:22s} rows {rows}")
    if size > MAX_BYTES:
        print(f"the sample is over {MAX_BYTES:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
