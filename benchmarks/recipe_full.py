"""Benchmark: `notus-data run notus-cleaned` end to end on a full-size synthetic UltraFeedback, side by side with
`notus-data binarize` alone on the same input, and the same recipe on the Ray engine.

Writes 63,967 synthetic rows in the raw schema (``notus_data.synthetic``, about 550 MB of parquet; cached under
benchmarks/_work/), then runs, as a user would and each in a child process, in turn (``--repeat`` rounds):

- ``binarize``: ``notus-data binarize INPUT pairs.parquet`` (read, score, binarize, write);
- ``recipe``: ``notus-data run RECIPE`` (score, flag, decontaminate, compare, binarize, split, card, plots);
- ``recipe --engine ray``: the same on a local Ray started by the run (its start-up included).

It prints, for each, the best wall time, the peak RSS of the child (``wait4``; Ray's own processes are not in it),
the ratio to binarize, whether the Ray folder has the local folder's bytes, and where the recipe's time went.

    python benchmarks/recipe_full.py
    python benchmarks/recipe_full.py --rows 6400 --recipe zephyr --repeat 3 --no-ray

TruthfulQA is read from --benchmark-file (default: data/truthfulqa-questions.jsonl), since the Hub may not be
reachable.
"""

from __future__ import annotations

import argparse
import hashlib
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
from notus_data.recipes.sink import run_facts_path  # noqa: E402

FULL_ROWS = 63_967
BENCHMARK_COPIES = (
    REPO / "data" / "truthfulqa-questions.jsonl",
    REPO.parent / "shared" / "data" / "truthfulqa" / "questions.jsonl",
)


def _decontaminates(recipe: str) -> bool:
    from notus_data.errors import NotusDataError
    from notus_data.recipes import load_recipe

    try:
        return load_recipe(recipe).decontaminate is not None
    except NotusDataError:
        return True


def timed_child(argv: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes of the child)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"{' '.join(argv)} failed:\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss * 1024


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"synthetic rows (default {FULL_ROWS:,})")
    parser.add_argument("--recipe", default="notus-cleaned", help="recipe to run (default notus-cleaned)")
    parser.add_argument("--benchmark-file", default=None, help="local TruthfulQA questions (jsonl)")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds (each job once a round; the best counts)"
    )
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="leave out the Ray run")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "_work"), help="where data and output go")
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"ultrafeedback-synthetic-{args.rows}.parquet"
    if not data.exists():
        started = time.perf_counter()
        synthetic.write_parquet(data, args.rows, seed=0)
        print(f"wrote {args.rows:,} synthetic rows to {data} in {time.perf_counter() - started:.1f} s")
    benchmark = args.benchmark_file or next((str(p) for p in BENCHMARK_COPIES if p.exists()), None)
    cli = [sys.executable, "-m", "notus_data.cli"]
    recipe_args = ["--input", str(data), "--quiet", "--no-progress"]
    if benchmark and _decontaminates(args.recipe):
        recipe_args += ["--benchmark-file", benchmark]
    out = work / "out"
    jobs = {
        "binarize": [*cli, "binarize", str(data), str(out / "pairs.parquet"), "--quiet", "--no-progress"],
        "recipe": [*cli, "run", args.recipe, *recipe_args, "--output", str(out / "local")],
    }
    if args.ray:
        jobs["recipe --engine ray"] = [*cli, "run", args.recipe, *recipe_args, "--output", str(out / "ray"),
                                       "--engine", "ray"]  # fmt: skip
    print(
        f"input: {data.name} ({data.stat().st_size / 2**20:,.0f} MiB, {args.rows:,} rows); recipe {args.recipe}"
    )
    best: dict[str, tuple[float, int]] = {}
    for round_ in range(args.repeat):
        for name, argv in jobs.items():
            wall, rss = timed_child(argv)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, rss)
            print(f"  round {round_ + 1}: {name:<22} {wall:6.2f} s  {rss / 2**20:6,.0f} MiB")
    report = json.loads((out / "local" / "report.json").read_text())
    report["info"]["timings"] = json.loads(run_facts_path(out / "local").read_text())["timings"]
    same = "-"
    if args.ray:
        same = "yes, bytes" if folder_digest(out / "ray") == folder_digest(out / "local") else "NO"
    base = best["binarize"][0]
    print()
    print(f"{'job':<24} {'wall s':>7} {'peak RSS MiB':>13} {'x binarize':>11}  same folder as local")
    for name, (wall, rss) in best.items():
        same_here = same if "ray" in name else ("reference" if name == "recipe" else "")
        print(f"{name:<24} {wall:>7.2f} {rss / 2**20:>13,.0f} {wall / base:>10.2f}x  {same_here}")
    print(f"recipe / binarize: {best['recipe'][0] / base:.2f}x (goal <= 2x)")
    print("where the recipe's time went (seconds summed over threads, from its report):")
    for step, seconds in sorted(report["info"]["timings"].items(), key=lambda kv: -kv[1]):
        print(f"  {step:<22} {seconds:>7.2f}")
    print("funnel:", json.dumps({"rows_in": report["rows_in"], "dropped": report["dropped"],
                                 "pairs": report["rows_out"]}))  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
