"""Time the Argilla review round trip: flag, push 2,000 records, push them again, answer them, pull them back,
apply the decisions and binarize.

Uses the server in ARGILLA_API_URL / ARGILLA_API_KEY when both are set; otherwise starts a throw-away local stack
with scripts/argilla-stack.sh (needs scripts/install-argilla-server.sh first) and stops it at the end. The input is
synthetic UltraFeedback (notus_data.synthetic), so nothing is downloaded.

    python benchmarks/review_roundtrip.py                 # 2,000 records
    python benchmarks/review_roundtrip.py --records 500 --json out.json

The answers are written in bulk by the owner (one submitted answer per record, as records.log does), because 2,000
answers clicked through the UI are not what is timed here; pull then reads back 2,000 answered records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class Timer:
    def __init__(self) -> None:
        self.figures: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Section:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.figures[name] = round(time.perf_counter() - self.t0, 3)
                print(f"  {name:<34} {timer.figures[name]:8.2f} s", flush=True)

        return _Section()


def start_stack(folder: Path) -> dict[str, str]:
    script = REPO / "scripts" / "argilla-stack.sh"
    args = [
        "bash",
        str(script),
        "start",
        "--dir",
        str(folder),
        "--port",
        "0",
        "--quiet",
        "--watch-pid",
        str(os.getpid()),
    ]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"could not start a local Argilla stack (run scripts/install-argilla-server.sh):\n{done.stderr}"
        )
    info = json.loads((folder / "stack.json").read_text())
    return {
        "ARGILLA_API_URL": info["api_url"],
        "ARGILLA_API_KEY": Path(info["api_key_file"]).read_text().strip(),
    }


def stop_stack(folder: Path) -> None:
    subprocess.run(
        ["bash", str(REPO / "scripts" / "argilla-stack.sh"), "stop", "--dir", str(folder), "--quiet"]
    )


def answer_all(dataset_name: str, n: int) -> int:
    """Submit one answer per record as the owner, in bulk: every 10th discard, every 5th a corrected score."""
    import argilla as rg

    from notus_data.review.client import ConnectionOptions, connect

    client = connect(ConnectionOptions())
    ds = client.datasets(name=dataset_name, workspace="argilla")
    me = client.me.id
    records = []
    for i, record in enumerate(ds.records(batch_size=1000, with_suggestions=False, with_responses=False)):
        verdict = "discard" if i % 10 == 0 else "correct" if i % 5 == 0 else "confirm"
        responses = [rg.Response("verdict", verdict, user_id=me, status="submitted")]
        if verdict == "correct":
            responses.append(rg.Response("corrected_score", 1 + i % 10, user_id=me, status="submitted"))
        # an upsert replaces the record's metadata: send it back unchanged
        records.append(
            rg.Record(
                id=record.id, fields=dict(record.fields), metadata=dict(record.metadata), responses=responses
            )
        )
    ds.records.log(records, batch_size=500)
    return len(records)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000, help="records to push and pull (default 2000)")
    parser.add_argument("--rows", type=int, default=6000, help="synthetic UltraFeedback rows to flag")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from notus_data import synthetic
    from notus_data.jobs.flag import flag
    from notus_data.review.apply import apply
    from notus_data.review.pull import pull
    from notus_data.review.push import push

    work = Path(tempfile.mkdtemp(prefix="review-bench-"))
    stack = work / "stack"
    own_stack = not (os.environ.get("ARGILLA_API_URL") and os.environ.get("ARGILLA_API_KEY"))
    timer = Timer()
    print(f"review round trip: {args.records:,} records (work dir {work})")
    try:
        if own_stack:
            with timer("start local stack"):
                os.environ.update(start_stack(stack))
        data = work / "uf.parquet"
        synthetic.write_parquet(data, args.rows, seed=0)
        with timer(f"flag {args.rows:,} prompts"):
            report = flag(data, work / "flagged.parquet")
        flagged = report.rows_out
        if flagged < args.records:
            sys.exit(f"only {flagged} flagged completions; raise --rows")
        # the first N distinct records (a prompt repeated in the input gives the same record ids)
        table = pq.read_table(work / "flagged.parquet")
        keys = zip(
            table.column("prompt_id").to_pylist(), table.column("completion_index").to_pylist(), strict=True
        )
        first_row: dict[tuple[str, int], int] = {}
        for i, key in enumerate(keys):
            first_row.setdefault(key, i)
        to_push = work / "to_push.parquet"
        pq.write_table(table.take(sorted(first_row.values())[: args.records]), to_push)
        name = f"bench-{int(time.time())}"
        with timer(f"push {args.records:,} new records"):
            first = push(to_push, dataset=name, batch_size=500)
        with timer("push again (all already there)"):
            second = push(to_push, dataset=name, batch_size=500)
        with timer(f"answer {args.records:,} records (bulk)"):
            answered = answer_all(name, args.records)
        with timer(f"pull {args.records:,} answered records"):
            pulled = pull(work / "decisions.parquet", dataset=name)
        with timer(f"apply + binarize {args.rows:,} prompts"):
            applied = apply(data, work / "pairs.parquet", decisions=work / "decisions.parquet")
    finally:
        if own_stack:
            stop_stack(stack)
        shutil.rmtree(work, ignore_errors=True)
    counts = {
        "records_pushed": first.rows_out,
        "records_added_by_second_push": second.rows_out,
        "records_answered": answered,
        "decisions": pulled.rows_out,
        "applied": applied.steps["decisions"],
    }
    assert first.rows_out == args.records and second.rows_out == 0 and pulled.rows_out == args.records, counts
    push_s, pull_s = (
        timer.figures[f"push {args.records:,} new records"],
        timer.figures[f"pull {args.records:,} answered records"],
    )
    print(f"  push: {args.records / push_s:,.0f} records/s; pull: {args.records / pull_s:,.0f} records/s")
    print(f"  round trip (push + pull): {push_s + pull_s:.2f} s for {args.records:,} records")
    print(json.dumps(counts))
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": timer.figures, "counts": counts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
