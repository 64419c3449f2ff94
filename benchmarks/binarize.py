"""Benchmark: `binarize` end to end (read input, write output) on a full-size synthetic UltraFeedback.

Prints wall seconds and peak RSS, side by side with
  (a) a per-row reference as the original notebooks did it: datasets.load_dataset + datasets.map with a Python
      function per row, then to_parquet;
  (b) the floor: pyarrow reading only the needed columns and writing the same output.
and the same for 10x the rows (10 shards of the same file), to show that time grows about linearly and memory
does not grow. Each measurement runs in its own process, its clock started once its libraries are imported;
peak RSS is that process's ru_maxrss. The input is read once before the jobs (so that they all find it in the page
cache), and each job runs --repeat times (default 2): the best wall time is shown.

    python benchmarks/binarize.py                 # 63,967 rows, and 10x for notus-data and the floor
    python benchmarks/binarize.py --rows 5000 --no-scale
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
FULL_ROWS = 63_967


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------- the three jobs


def job_notus(input: str, output: str) -> None:
    from notus_data.jobs.binarize import binarize

    binarize(input, output)


def job_per_row(input: str, output: str) -> None:
    import random

    import datasets

    datasets.disable_progress_bars()
    ds = datasets.load_dataset(
        "parquet", data_files=input, split="train", cache_dir=str(Path(output).parent / "hf-cache")
    )
    rng = random.Random(42)

    def mean(completion):
        ratings = [
            int(a["Rating"])
            for a in completion["annotations"].values()
            if a and a["Rating"] not in (None, "N/A") and a["Rating"].isdigit()
        ]
        return sum(ratings) / len(ratings) if ratings else None

    def binarize_row(example):
        scored = [(mean(c), c) for c in example["completions"] if c and c["response"] is not None]
        scored = [(s, c) for s, c in scored if s is not None]
        empty = {"chosen_response": None, "rejected_response": None, "chosen_avg_rating": None,
                 "rejected_avg_rating": None, "chosen_model": None}  # fmt: skip
        if len(scored) < 2:
            return empty
        best = max(s for s, _ in scored)
        chosen = next(c for s, c in scored if s == best)
        lower = [(s, c) for s, c in scored if s < best]
        if not lower:
            return empty
        s_rej, rejected = rng.choice(lower)
        return {"chosen_response": chosen["response"], "rejected_response": rejected["response"],
                "chosen_avg_rating": best, "rejected_avg_rating": s_rej, "chosen_model": chosen["model"]}  # fmt: skip

    keep = ["source", "instruction"]
    out = ds.map(binarize_row, remove_columns=[c for c in ds.column_names if c not in keep])
    out = out.filter(lambda e: e["chosen_response"] is not None)
    out.to_parquet(output)


def job_floor(input: str, output: str, reference_output: str) -> None:
    """Read only the needed columns, write the same output (loaded before the clock starts)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from notus_data.io import AtomicWriter, TableSource
    from notus_data.schema import needed_columns

    same_output = pq.read_table(reference_output)
    started = time.perf_counter()
    source = TableSource(Path(input))
    for _ in source.iter_batches(columns=needed_columns()):
        pass
    with AtomicWriter(output, same_output.schema) as writer:
        for batch in same_output.to_batches(max_chunksize=8192):
            writer.write(pa.Table.from_batches([batch]))
    print(json.dumps({"inner_seconds": time.perf_counter() - started}), file=sys.stderr)


def child(args: argparse.Namespace) -> None:
    # Imports are a fixed cost, not the job: every job starts its clock with its libraries loaded.
    import pandas  # noqa: F401  (pyarrow loads it on first use)
    import pyarrow.parquet  # noqa: F401

    if args.job == "per-row":
        import datasets  # noqa: F401
    else:
        import notus_data.jobs.binarize  # noqa: F401
    started = time.perf_counter()
    if args.job == "notus-data":
        job_notus(args.input, args.output)
    elif args.job == "per-row":
        job_per_row(args.input, args.output)
    else:
        job_floor(args.input, args.output, args.reference)
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}))


# ------------------------------------------------------------------------------------------------ driver


def warm_page_cache(input: Path) -> None:
    """Read the input once, so that no job pays for the first read from disk and the order of jobs is fair."""
    for path in sorted(input.rglob("*.parquet")) if input.is_dir() else [input]:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass


def measure(job: str, input: Path, output: Path, reference: Path | None = None, repeat: int = 1) -> dict:
    """The best wall time of ``repeat`` runs (with the peak RSS of that run)."""
    runs = [_measure_once(job, input, output, reference) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def _measure_once(job: str, input: Path, output: Path, reference: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", job, "--input", str(input), "--output", str(output)]
    if reference:
        cmd += ["--reference", str(reference)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{job} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if job == "floor":  # the floor's clock excludes loading the output it writes again
        result["seconds"] = json.loads(proc.stderr.strip().splitlines()[-1])["inner_seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=FULL_ROWS)
    parser.add_argument("--no-scale", action="store_true", help="skip the 10x run")
    parser.add_argument("--skip-per-row", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each job; the best wall time is shown")
    parser.add_argument("--child", dest="job")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--reference")
    args = parser.parse_args()
    if args.job:
        child(args)
        return

    from notus_data.synthetic import write_parquet

    WORK.mkdir(exist_ok=True)
    data = WORK / f"uf-{args.rows}.parquet"
    if not data.exists():
        started = time.perf_counter()
        write_parquet(data, args.rows, seed=0)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    size = data.stat().st_size
    print(
        f"input: {data.name}, {args.rows:,} rows, {size / 2**20:.0f} MiB ({size / args.rows / 1024:.1f} KiB a row)"
    )
    runs = [("1x", data, args.rows)]
    if not args.no_scale:
        shards = WORK / f"uf-{args.rows}-x10"
        if not shards.exists():
            shards.mkdir()
            for i in range(10):
                os.link(data, shards / f"train-{i:05d}-of-00010.parquet")
        runs.append(("10x", shards, args.rows * 10))

    rows = []
    for label, input, n in runs:
        out = WORK / f"out-{label}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        warm_page_cache(input)
        ours = measure("notus-data", input, out / "notus.parquet", repeat=args.repeat)
        floor = measure(
            "floor", input, out / "floor.parquet", reference=out / "notus.parquet", repeat=args.repeat
        )
        rows.append((label, n, "notus-data binarize", ours))
        rows.append((label, n, "floor: pyarrow read needed columns + write", floor))
        if label == "1x" and not args.skip_per_row:
            rows.append(
                (
                    label,
                    n,
                    "per-row datasets.map reference",
                    measure("per-row", input, out / "per-row.parquet"),
                )
            )
        shutil.rmtree(out, ignore_errors=True)

    print(f"\n{'size':<5} {'rows':>9}  {'job':<44} {'wall s':>8} {'peak RSS MiB':>13}")
    for label, n, job, r in rows:
        print(f"{label:<5} {n:>9,}  {job:<44} {r['seconds']:>8.2f} {r['peak_rss_mb']:>13.0f}")
    ours = {label: r for label, _, job, r in rows if job.startswith("notus-data")}
    floor = {label: r for label, _, job, r in rows if job.startswith("floor")}
    per_row = next((r for _, _, job, r in rows if job.startswith("per-row")), None)
    print()
    if per_row:
        print(
            f"speed-up over the per-row reference: {per_row['seconds'] / ours['1x']['seconds']:.1f}x (target >= 3x)"
        )
    print(f"ratio to the floor: {ours['1x']['seconds'] / floor['1x']['seconds']:.2f}x (target <= 1.5x)")
    if "10x" in ours:
        print(
            f"10x rows: time x{ours['10x']['seconds'] / ours['1x']['seconds']:.1f}, "
            f"peak RSS {ours['1x']['peak_rss_mb']:.0f} -> {ours['10x']['peak_rss_mb']:.0f} MiB (target < 1024)"
        )


if __name__ == "__main__":
    main()
