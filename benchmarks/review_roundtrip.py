"""Time the Argilla review round trips, both kinds:

- flagged completions: flag, push 2,000 flagged completions (as prompt-level records: one per prompt, with every
  completion of it; ``--level completion``: one record each), push them again, answer them, pull them back, apply
  the decisions and binarize;
- pairs (``review pairs``): binarize, push 2,000 pairs as A/B records, push them again, answer them, pull them
  back, apply the pair decisions (keep / swap / drop).

Uses the server in ARGILLA_API_URL / ARGILLA_API_KEY when both are set; otherwise starts a throw-away local stack
with scripts/argilla-stack.sh (needs scripts/install-argilla-server.sh first) and stops it at the end. The input is
synthetic UltraFeedback (notus_data.synthetic), so nothing is downloaded.

    python benchmarks/review_roundtrip.py                 # 2,000 records
    python benchmarks/review_roundtrip.py --records 500 --json out.json
    python benchmarks/review_roundtrip.py --kind pairs    # only the pair review

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
    """Submit one answer per record as the owner, in bulk. A prompt-level record: a verdict for each flagged
    completion (every 10th exclude, every 5th a corrected score, else confirm) and ``checked`` done; a
    completion-level record: the same verdicts on its one completion."""
    import argilla as rg

    from notus_data.review.client import ConnectionOptions, connect

    client = connect(ConnectionOptions())
    ds = client.datasets(name=dataset_name, workspace="argilla")
    me = client.me.id
    records = []
    k = 0
    for record in ds.records(batch_size=1000, with_suggestions=False, with_responses=False):
        keys = record.metadata.get("review_keys")
        slots = [int(key.split("|")[0]) for key in keys if key.endswith("|1")] if keys else [None]
        responses = [rg.Response("checked", "done", user_id=me, status="submitted")] if keys else []
        for slot in slots:
            verdict = "correct" if k % 5 == 0 else "confirm"
            if k % 10 == 0:
                verdict = "exclude" if keys else "discard"
            name, score = (
                ("verdict", "corrected_score") if slot is None else (f"verdict_{slot}", f"score_{slot}")
            )
            responses.append(rg.Response(name, verdict, user_id=me, status="submitted"))
            if verdict == "correct":
                responses.append(rg.Response(score, 1 + k % 10, user_id=me, status="submitted"))
            k += 1
        # an upsert replaces the record's metadata: send it back unchanged
        records.append(
            rg.Record(
                id=record.id, fields=dict(record.fields), metadata=dict(record.metadata), responses=responses
            )
        )
    ds.records.log(records, batch_size=500)
    return len(records)


def answer_pairs(dataset_name: str) -> int:
    """Submit one answer per pair record as the owner, in bulk: A, B, A, tie, unusable, in turn."""
    import argilla as rg

    from notus_data.review.client import ConnectionOptions, connect

    client = connect(ConnectionOptions())
    ds = client.datasets(name=dataset_name, workspace="argilla")
    me = client.me.id
    cycle = ("A", "B", "A", "tie", "unusable")
    records = [
        rg.Record(
            id=record.id,
            fields=dict(record.fields),
            metadata=dict(record.metadata),
            responses=[rg.Response("better", cycle[i % len(cycle)], user_id=me, status="submitted")],
        )
        for i, record in enumerate(ds.records(batch_size=1000, with_suggestions=False, with_responses=False))
    ]
    ds.records.log(records, batch_size=500)
    return len(records)


def pairs_roundtrip(work: Path, data: Path, n: int, timer: Timer) -> dict:
    """Binarize ``data``, then push, push again, answer, pull and apply ``n`` distinct pairs."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from notus_data.jobs.binarize import binarize
    from notus_data.review.pairs import pair_record_ids, push_pairs
    from notus_data.review.pairs_apply import apply_pairs
    from notus_data.review.pairs_pull import pull_pairs

    binarize(data, work / "all-pairs.parquet")
    table = pq.read_table(work / "all-pairs.parquet")
    ids = pair_record_ids(
        table.column("prompt_id"), table.column("chosen_response"), table.column("rejected_response")
    ).to_pylist()
    first: dict[str, int] = {}
    for i, rid in enumerate(ids):
        first.setdefault(rid, i)
    if len(first) < n:
        sys.exit(f"only {len(first)} distinct pairs; raise --rows")
    pairs = work / "pairs-to-push.parquet"
    pq.write_table(table.take(sorted(first.values())[:n]), pairs)
    name = f"bench-pairs-{int(time.time())}"
    with timer(f"push {n:,} new pair records"):
        pushed = push_pairs(pairs, dataset=name, batch_size=500)
    with timer("push pairs again (all there)"):
        again = push_pairs(pairs, dataset=name, batch_size=500)
    with timer(f"answer {n:,} pair records (bulk)"):
        answered = answer_pairs(name)
    with timer(f"pull {n:,} answered pair records"):
        pulled = pull_pairs(work / "pair-decisions.parquet", dataset=name)
    with timer(f"apply {n:,} pair decisions"):
        applied = apply_pairs(
            pairs, work / "pairs-reviewed.parquet", decisions=work / "pair-decisions.parquet"
        )
    counts = {
        "pairs_pushed": pushed.rows_out,
        "pairs_added_by_second_push": again.rows_out,
        "pairs_answered": answered,
        "pair_decisions": pulled.rows_out,
        "pair_decisions_by_answer": pulled.steps["pull"]["by_decision"],
        "applied": applied.steps["pair_decisions"],
        "pairs_out": applied.rows_out,
        "swapped_share": round(applied.steps["pair_decisions"]["swapped"] / n, 3),
    }
    assert pushed.rows_out == n and again.rows_out == 0 and pulled.rows_out == n, counts
    assert int(pc.sum(pc.is_valid(pq.read_table(work / "pairs-reviewed.parquet").column(0))).as_py()) == (
        applied.rows_out
    )
    return counts


def completions_roundtrip(
    work: Path, data: Path, n: int, rows: int, timer: Timer, level: str = "prompt"
) -> dict:
    """Flag ``data``, then push ``n`` flagged completions (as prompt-level records by default), push again,
    answer, pull and apply; binarize."""
    import pyarrow.parquet as pq

    from notus_data.jobs.flag import flag
    from notus_data.review.apply import apply
    from notus_data.review.pull import pull
    from notus_data.review.push import push

    with timer(f"flag {rows:,} prompts"):
        report = flag(data, work / "flagged.parquet")
    flagged = report.rows_out
    if flagged < n:
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
    pq.write_table(table.take(sorted(first_row.values())[:n]), to_push)
    name = f"bench-{int(time.time())}"
    with timer(f"push {n:,} new records"):
        first = push(to_push, dataset=name, batch_size=500, level=level, data=str(data))
    with timer("push again (all already there)"):
        second = push(to_push, dataset=name, batch_size=500, level=level, data=str(data))
    with timer(f"answer {n:,} records (bulk)"):
        answered = answer_all(name, n)
    with timer(f"pull {n:,} answered records"):
        pulled = pull(work / "decisions.parquet", dataset=name)
    with timer(f"apply + binarize {rows:,} prompts"):
        applied = apply(data, work / "pairs.parquet", decisions=work / "decisions.parquet")
    counts = {
        "level": level,
        "flagged_completions_pushed": first.rows_in - sum(first.dropped.values()),
        "records_pushed": first.steps["push"]["records_added"],
        "records_added_by_second_push": second.rows_out,
        "records_answered": answered,
        "decisions": pulled.rows_out,
        "applied": applied.steps["decisions"],
    }
    counts["not_pushed"] = dict(
        first.dropped
    )  # e.g. duplicate_prompt: a prompt that comes twice in the input
    assert first.rows_in == n and second.rows_out == 0 and pulled.rows_out > 0, counts
    push_s, pull_s = (
        timer.figures[f"push {n:,} new records"],
        timer.figures[f"pull {n:,} answered records"],
    )
    records = counts["records_pushed"]
    print(
        f"  push: {n / push_s:,.0f} flagged completions/s ({records:,} records); pull: {records / pull_s:,.0f} records/s"
    )
    print(f"  round trip (push + pull): {push_s + pull_s:.2f} s for {n:,} flagged completions")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000, help="records to push and pull (default 2000)")
    parser.add_argument("--rows", type=int, default=6000, help="synthetic UltraFeedback rows to flag")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument(
        "--kind", choices=("completions", "pairs", "both"), default="both", help="which review to time"
    )
    parser.add_argument(
        "--level",
        choices=("prompt", "completion"),
        default="prompt",
        help="records of the completions review",
    )
    args = parser.parse_args()

    from notus_data import synthetic

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
        counts: dict = {}
        if args.kind in ("completions", "both"):
            counts["completions"] = completions_roundtrip(
                work, data, args.records, args.rows, timer, args.level
            )
        if args.kind in ("pairs", "both"):
            counts["pairs"] = pairs_roundtrip(work, data, args.records, timer)
            push_s = timer.figures[f"push {args.records:,} new pair records"]
            pull_s = timer.figures[f"pull {args.records:,} answered pair records"]
            print(
                f"  pairs push: {args.records / push_s:,.0f} records/s; pull: {args.records / pull_s:,.0f} records/s"
            )
    finally:
        if own_stack:
            stop_stack(stack)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(counts))
    if args.json:
        Path(args.json).write_text(json.dumps({"seconds": timer.figures, "counts": counts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
