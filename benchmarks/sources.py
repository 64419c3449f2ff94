"""Benchmark: each other source's bundled recipe on a full-size generated input (notus_data.synthetic.sources).

Full sizes (issue 13): HelpSteer2 ~21k rows (7,000 prompts of 1-4 responses), Nectar 183k prompts x 7 answers,
hh-rlhf 161k pairs; armorm-ultrafeedback (rm-scored) 60k prompts x 5. For each: the recipe `notus-data run`
(plots off) in its own process, wall seconds and peak RSS (ru_maxrss of that process), and the same at a quarter
of the size, to show that memory does not grow with the input (streamed by batch).

    python benchmarks/sources.py                  # full size and a quarter
    python benchmarks/sources.py --scale 0.1      # 10% of full size (and 2.5%)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work" / "sources"
#: recipe -> (generator kind, full-size prompts)
CASES = {
    "helpsteer2": ("helpsteer2", 7_000),
    "nectar": ("nectar", 183_000),
    "hh-rlhf-helpful": ("hh-rlhf", 161_000),
    "armorm-ultrafeedback": ("rm-scored", 60_000),
}


def child(recipe: str, input: str, output: str) -> None:
    import shutil

    from notus_data.recipes import run

    shutil.rmtree(output, ignore_errors=True)
    began = time.perf_counter()
    report = run(recipe, input=input, output=output, plots=False)
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": seconds, "peak_rss_mb": peak, "rows_in": report.rows_in, "pairs": report.rows_out}
        )
    )


def measure(recipe: str, input: Path, output: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", recipe, str(input), str(output)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full sizes")
    parser.add_argument("--only", default=None, help="one recipe")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from notus_data.synthetic.sources import write

    WORK.mkdir(parents=True, exist_ok=True)
    print(
        f"{'recipe':22} {'prompts':>9} {'input rows':>11} {'gen s':>6} {'wall s':>7} {'peak RSS MB':>12} {'pairs':>9}"
    )
    for recipe, (kind, full) in CASES.items():
        if args.only and recipe != args.only:
            continue
        for share in (0.25, 1.0):
            prompts = max(100, int(full * args.scale * share))
            path = WORK / f"{kind}-{prompts}.parquet"
            began = time.perf_counter()
            rows = write(kind, str(path), prompts, seed=0) if not path.exists() else None
            generated = time.perf_counter() - began
            got = measure(recipe, path, WORK / f"out-{recipe}-{prompts}")
            shown = f"{rows:,}" if rows is not None else "cached"
            print(f"{recipe:22} {prompts:>9,} {shown:>11} {generated:>6.1f} {got['seconds']:>7.1f} "
                  f"{got['peak_rss_mb']:>12.0f} {got['pairs']:>9,}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
