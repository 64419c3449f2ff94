"""Benchmark: binarize the full-size synthetic UltraFeedback (63,967 rows) with the local and the Ray engine.

    python benchmarks/engine_ray.py [--rows 63967] [--seed 0] [--batch-size 4096] [--repeat 1]

Each run is a separate child process (``python benchmarks/engine_ray.py --child ENGINE ...``), and the parent
samples, every 0.1 s, the memory of the child and of all its descendants (for Ray: the GCS server, the raylet
with its shared-memory object store, the workers, the agents). Printed per run:

- wall: seconds from starting the child to its exit (for "ray, cold": includes starting a local Ray);
- job: seconds inside ``binarize`` (from the report), and for Ray the part of it spent starting Ray;
- peak PSS: the highest sum of proportional set sizes over the process tree (shared pages, such as the Ray
  object store mapped into several processes, are divided among the processes that map them, so nothing is
  counted twice); peak RSS sum: the same with resident set sizes (counts shared pages once per process: an
  upper bound);
- whether the output is byte-identical to the local engine's.

The input is generated once into ``benchmarks/_work/`` (git-ignored) with :mod:`notus_data.synthetic`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

WORK = Path(__file__).resolve().parent / "_work"

SCALING_NOTE = """\
How it scales to many machines (the Ray engine):
- per block (in parallel, one task per chunk of ~batch_size rows): reading the chunk's parquet row groups
  (only the nested fields scoring needs: no critiques or rationales), normalizing, scoring and binarizing.
  Chunks are planned on the driver from the parquet footers alone; a task reads only its own row groups.
- broadcast: only the options (a few hundred bytes, sent with each task); the code goes once per worker.
- shuffled: nothing. Every step is row-local and the random draws depend on (seed, prompt_id) only, so no
  data moves between workers; results stream back to the driver in input order.
- on the driver (ray_write=driver, the default): writing the pairs through the same atomic writer as the
  local engine (byte-identical output) and adding up the per-block report counts. The write is the serial
  part; the split measured below says how many worker cores one driver keeps up with. Past that, use
  ray_write=parallel: every task writes its own parquet file (same pairs, same order by file name), and the
  driver only adds up counts, so nothing serial grows with the data but the planning (one footer per file).
- input and (parallel) output on storage every node sees, at the same path; memory per worker is about one
  chunk, and the driver holds a bounded number of result blocks (Ray Data backpressure).
"""


def serial_split(data: Path, batch_size: int) -> str:
    """Time, in this process, the per-batch work (read + normalize + score + binarize) and the write of the
    pairs, to show which share of the job a single driver writer is."""
    import pyarrow as pa

    from notus_data.io import AtomicWriter, load_ultrafeedback
    from notus_data.steps.binarize import BinarizeOptions, binarize_table
    from notus_data.steps.score import score_table

    options = BinarizeOptions()
    began = time.perf_counter()
    pairs = []
    for batch in load_ultrafeedback(data).iter_batches(batch_size):
        pairs.append(binarize_table(score_table(batch, options.score_options()), options)[0])
    compute = time.perf_counter() - began
    table = pa.concat_tables(pairs)
    began = time.perf_counter()
    with AtomicWriter(WORK / "pairs-write-only.parquet", table.schema) as writer:
        for part in pairs:
            writer.write(part)
    write = time.perf_counter() - began
    return (
        f"one core: read+normalize+score+binarize {compute:.2f} s ({table.num_rows / compute:,.0f} pairs/s); "
        f"writing the {table.nbytes / 2**20:.0f} MiB of pairs to parquet {write:.2f} s "
        f"({table.num_rows / write:,.0f} pairs/s): one driver writer keeps up with about {compute / write:.1f} "
        "worker cores"
    )


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _sample(procs: list[psutil.Process]) -> tuple[int, int]:
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss


def measure(cmd: list[str]) -> dict:
    """Run ``cmd``; return its wall time, peak tree memory and the JSON it printed last."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    peak = {"rss": 0, "pss": 0, "processes": 0}
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            procs = _tree(proc)
            rss, pss = _sample(procs)
            peak["rss"] = max(peak["rss"], rss)
            peak["pss"] = max(peak["pss"], pss)
            peak["processes"] = max(peak["processes"], len(procs))
            done.wait(0.1)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    out, err = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    thread.join()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({child.returncode}):\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {"wall": wall, **peak, **result}


def child(engine: str, input: str, output: str, batch_size: int) -> None:
    """Run one binarize in this process and print its timings as JSON (the parent measures memory).

    ``local`` and ``ray`` go through :func:`notus_data.jobs.binarize.binarize` (``ray`` starts a local Ray, as the
    CLI does); ``ray-warm`` and ``ray-warm-parallel`` start Ray first and run once untimed, so that the timed
    run sees a cluster that is up with its workers loaded (as a long-lived cluster is).
    """
    from notus_data.jobs.binarize import binarize

    if engine.startswith("ray-warm"):
        import ray

        ray.init(address="local", include_dashboard=False, logging_level="WARNING")
        ray_write = "parallel" if engine.endswith("parallel") else "driver"
        binarize(input, output, engine="ray", batch_size=batch_size, ray_write=ray_write)
        report = binarize(input, output, engine="ray", batch_size=batch_size, ray_write=ray_write)
    else:
        report = binarize(input, output, engine=engine, batch_size=batch_size)
    engine_info = report.info.get("engine", {})
    print(
        json.dumps(
            {
                "job": report.info["seconds"],
                "startup": engine_info.get("startup_seconds", 0.0),
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
                "cpus": engine_info.get("cpus", os.cpu_count()),
                "chunks": engine_info.get("chunks"),
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=63967)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each engine (the best is shown)")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, batch_size=args.batch_size)
        return

    from notus_data.io import read_table
    from notus_data.synthetic import write_parquet

    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"ultrafeedback-synthetic-{args.rows}-seed{args.seed}.parquet"
    if not data.exists():
        began = time.perf_counter()
        write_parquet(data, args.rows, seed=args.seed)
        print(f"generated {data} ({args.rows:,} rows) in {time.perf_counter() - began:.1f} s")
    print(
        f"input: {data.name}, {data.stat().st_size / 2**20:.0f} MiB, {args.rows:,} rows; batch size "
        f"{args.batch_size}; {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        f"python {sys.version.split()[0]}"
    )
    runs = [
        ("local", "local", ".parquet"),
        ("ray, cold (starts a local Ray)", "ray", ".parquet"),
        ("ray, warm (Ray already up)", "ray-warm", ".parquet"),
        ("ray, warm, ray_write=parallel", "ray-warm-parallel", ""),
    ]
    rows = []
    reference = None
    for label, engine, suffix in runs:
        best = None
        for _ in range(args.repeat):
            output = WORK / f"pairs-{engine}{suffix}"
            cmd = [sys.executable, __file__, "--batch-size", str(args.batch_size), "--child", engine]
            result = measure([*cmd, str(data), str(output)])
            if best is None or result["wall"] < best["wall"]:
                best = result
        pairs = read_table(output)
        if reference is None:
            reference = (output.read_bytes(), pairs)
        best["identical"] = (
            "yes, bytes" if suffix and output.read_bytes() == reference[0]
            else "yes, rows" if pairs.equals(reference[1]) else "NO"
        )  # fmt: skip
        rows.append((label, best))

    header = f"{'engine':<32} {'wall s':>7} {'job s':>7} {'of it Ray start':>15} {'peak PSS MiB':>13} {'peak RSS sum MiB':>17} {'procs':>5} {'pairs':>7}  same as local"
    print(header)
    print("-" * len(header))
    for label, r in rows:
        print(
            f"{label:<32} {r['wall']:>7.1f} {r['job']:>7.1f} {r['startup']:>15.1f} {r['pss'] / 2**20:>13.0f} "
            f"{r['rss'] / 2**20:>17.0f} {r['processes']:>5} {r['rows_out']:>7,}  {r['identical']}"
        )
    print(
        "wall: the whole child process (warm rows: includes starting Ray and one untimed run); job: the timed "
        "binarize call; peak memory: the whole process tree (driver, Ray services, workers)"
    )
    print(serial_split(data, args.batch_size))
    print()
    print(SCALING_NOTE)


if __name__ == "__main__":
    main()
