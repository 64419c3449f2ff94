"""Write data/ultrafeedback-sample.parquet: 400 synthetic openbmb/UltraFeedback rows (seed 0, edge cases, zstd).

    python data/make_sample.py            # rewrite the sample, print its size and edge-case rows
    python data/make_sample.py --check    # exit 1 if the committed sample differs from what the code makes

The rows come from :mod:`notus_data.synthetic`; data/README.md describes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's notus_data, installed or not

import pyarrow.parquet as pq  # noqa: E402

from notus_data import synthetic  # noqa: E402

SAMPLE = HERE / "ultrafeedback-sample.parquet"
ROWS, SEED = 400, 0
MAX_BYTES = 3_000_000


def write(path: Path) -> Path:
    """Write the sample to ``path`` (the same call the committed file was made with)."""
    return synthetic.write_parquet(path, ROWS, seed=SEED, edge_cases=True, compression="zstd")


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
