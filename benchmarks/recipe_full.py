"""Benchmark: `notus-data run notus-cleaned` end to end on a full-size synthetic UltraFeedback.

Writes 63,967 synthetic rows in the raw schema (``notus_data.synthetic``, about 570 MB of parquet; cached under
benchmarks/_work/), then runs the recipe as a user would, in a child process, and prints its wall time, its peak
RSS (the child's own, from ``wait4``), throughput, pairs out, and where the time went (the run's per-step timings
from its report).

    python benchmarks/recipe_full.py
    python benchmarks/recipe_full.py --rows 6400 --recipe zephyr --repeat 2
    python benchmarks/recipe_full.py --benchmark-file ../shared/data/truthfulqa/questions.jsonl

TruthfulQA is read from --benchmark-file (default: data/truthfulqa-questions.jsonl, else
../shared/data/truthfulqa/questions.jsonl), since the Hub may not be reachable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notus_data import synthetic  # noqa: E402
from notus_data.io import report_path  # noqa: E402

FULL_ROWS = 63_967
BENCHMARK_COPIES = (
    REPO / "data" / "truthfulqa-questions.jsonl",
    REPO.parent / "shared" / "data" / "truthfulqa" / "questions.jsonl",
)


def command_line(recipe: str, args: list[str]) -> list[str]:
    """`notus-data run ...` through this interpreter (the registered command, or the module while unregistered)."""
    from notus_data.cli import COMMANDS

    if "run" in COMMANDS:
        return [sys.executable, "-m", "notus_data.cli", "run", recipe, *args]
    code = "import sys; from notus_data.cli.run import run_command; run_command(sys.argv[1:])"
    return [sys.executable, "-c", code, recipe, *args]


def _decontaminates(recipe: str) -> bool:
    from notus_data.errors import NotusDataError
    from notus_data.recipes import load_recipe

    try:
        return load_recipe(recipe).decontaminate is not None
    except NotusDataError:
        return True


def timed_child(argv: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes of the child, exit status)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode:
        sys.exit(f"the run failed (exit {child.returncode}):\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss * 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"synthetic rows (default {FULL_ROWS:,})")
    parser.add_argument("--recipe", default="notus-cleaned", help="recipe to run (default notus-cleaned)")
    parser.add_argument("--benchmark-file", default=None, help="local TruthfulQA questions (jsonl)")
    parser.add_argument("--repeat", type=int, default=1, help="runs to time (the best is printed too)")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "_work"), help="where data and output go")
    parser.add_argument("--keep", action="store_true", help="keep the output folder")
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"ultrafeedback-synthetic-{args.rows}.parquet"
    if not data.exists():
        started = time.perf_counter()
        synthetic.write_parquet(data, args.rows, seed=0)
        print(f"wrote {args.rows:,} synthetic rows to {data} in {time.perf_counter() - started:.1f} s")
    benchmark = args.benchmark_file or next((str(p) for p in BENCHMARK_COPIES if p.exists()), None)
    output = work / "out" / args.recipe
    run_args = ["--input", str(data), "--output", str(output), "--quiet", "--no-progress"]
    if benchmark and _decontaminates(args.recipe):
        run_args += ["--benchmark-file", benchmark]
    argv = command_line(args.recipe, run_args)

    print(f"input: {data.name} ({data.stat().st_size / 2**20:,.0f} MiB, {args.rows:,} rows)")
    print(f"command: notus-data run {args.recipe} {' '.join(run_args)}")
    print(f"{'run':>4} {'wall s':>8} {'rows/s':>9} {'peak RSS MiB':>13} {'pairs out':>10}")
    results = []
    for i in range(args.repeat):
        wall, rss, _ = timed_child(argv)
        report = json.loads(report_path(output).read_text())
        results.append((wall, rss, report))
        print(
            f"{i + 1:>4} {wall:>8.1f} {args.rows / wall:>9,.0f} {rss / 2**20:>13,.0f} {report['rows_out']:>10,}"
        )
    wall, rss, report = min(results, key=lambda r: r[0])
    print(f"best: {wall:.1f} s wall, peak RSS {rss / 2**20:,.0f} MiB")
    print("where the time went (seconds, from the run's report):")
    for step, seconds in sorted(report["info"]["timings"].items(), key=lambda kv: -kv[1]):
        print(f"  {step:<22} {seconds:>7.2f}")
    print(
        "funnel:",
        json.dumps({"rows_in": report["rows_in"], "dropped": report["dropped"], "pairs": report["rows_out"]}),
    )
    if not args.keep:
        shutil.rmtree(output, ignore_errors=True)


if __name__ == "__main__":
    main()
