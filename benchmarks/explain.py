"""Benchmark: `explain` on a full-size synthetic UltraFeedback against a published-style set made by rule (b).

The published set is our binarizer with --strategy notus-drawties and another seed, in the -cleaned columns, with
one pair in 50 removed. The job (binarize the input afresh with every row traced, read the published set, join,
attribute, test the rule, write the attribution) runs in its own process, its clock started once its libraries are
imported; peak RSS is that process's ru_maxrss. Prints the wall and CPU time (the CPU time is the figure to trust
on a shared machine), the memory, the counts and the verdict.

    python benchmarks/explain.py                  # 63,967 rows
    python benchmarks/explain.py --rows 5000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
FULL_ROWS = 63_967


def child(input: str, published: str, output: str) -> None:
    import notus_data.jobs.explain as job

    started, cpu = time.perf_counter(), time.process_time()
    result = job.explain(input, published, output)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, "rows": result.attribution.num_rows,
               "counts": result.counts, "rule_test": result.rule_test.to_dict()}  # fmt: skip
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=FULL_ROWS)
    parser.add_argument("--child", nargs=3, metavar=("INPUT", "PUBLISHED", "OUTPUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    import numpy as np
    import pyarrow as pa

    from notus_data.io import read_table, write_table
    from notus_data.jobs.binarize import binarize
    from notus_data.synthetic import write_parquet

    WORK.mkdir(exist_ok=True)
    data = WORK / f"uf-{args.rows}.parquet"
    if not data.exists():
        started = time.perf_counter()
        write_parquet(data, args.rows, seed=0)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    published = WORK / f"published-b-{args.rows}.parquet"
    if not published.exists():
        made = WORK / f"drawties-{args.rows}.parquet"
        binarize(data, made, strategy="notus-drawties", seed=1234, format="cleaned")
        pairs = read_table(made)
        write_table(pairs.filter(pa.array(np.arange(pairs.num_rows) % 50 != 7)), published)
    out = WORK / f"explain-{args.rows}.parquet"
    cmd = [sys.executable, __file__, "--child", str(data), str(published), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"explain failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    test = r["rule_test"]
    tie = test["classes"]["tie_partner"]
    print(f"input: {data.name}, {args.rows:,} rows; published: {published.name}")
    print(
        f"explain: {r['seconds']:.1f} s ({r['cpu_seconds']:.1f} s of CPU, all threads), "
        f"{r['peak_rss_mb']:.0f} MiB peak RSS, {r['rows']:,} attribution rows"
    )
    for category, reasons in r["counts"].items():
        for reason, n in reasons.items():
            print(f"  {category:28} {reason:32} {n:>8,}")
    print(
        f"rule test: verdict {test['verdict']}, log-likelihood ratio {test['log_likelihood_ratio_b_over_a']:+.1f}; "
        f"tie_partner prompts {tie['rows']:,}, missing {tie['missing']:,} (expected (a) {tie['expected_a']:.1f}, "
        f"(b) {tie['expected_b']:.1f}); rows explained (a) {test['explained']['a']:,}, (b) {test['explained']['b']:,}"
    )


if __name__ == "__main__":
    main()
