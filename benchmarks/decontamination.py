"""Benchmark: recall, false positives and speed of decontamination, for every benchmark and preset.

Quality (``--quality``, on by default): the planted benchmark of :mod:`notus_data.decontamination.planted`
(every question of the split planted in each kind that applies, hard negatives, the real UltraFeedback prompts
of ``../shared/data/ultrafeedback-pairs`` and synthetic long prompts), against the ``all`` preset, with the
default methods and with ``paraphrase`` on. ``--split dev`` is what the defaults were tuned on; ``--split test``
is held out (its questions, fillers, prefixes, synonyms and rewordings are not the dev ones).

Speed (``--speed``): ``--prompts`` realistic prompts (the real UltraFeedback prompts, each copy but the first
with one real response sentence added, so that every text is distinct) against each preset, the index loaded
from its cache as a run would; prints seconds, prompts per second and the peak memory growth.

    python benchmarks/decontamination.py                      # quality on both splits, then speed
    python benchmarks/decontamination.py --split test --show-errors 10
    python benchmarks/decontamination.py --no-quality --prompts 64000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notus_data.decontamination import DecontaminateOptions, decontaminate_table, load_index  # noqa: E402
from notus_data.decontamination.catalog import PRESETS  # noqa: E402
from notus_data.decontamination.matchers import DEFAULT_METHODS, METHODS  # noqa: E402
from notus_data.decontamination.planted import (  # noqa: E402
    NEGATIVE_KINDS,
    POSITIVE_KINDS,
    load_sets,
    make_cases,
    score_cases,
    sentences_of,
)

DATA = REPO.parent / "shared" / "data"
TARGETS = "recall >= 0.95 per code-made kind, >= 0.8 human; FP <= 0.1% clean, <= 2% one word changed"


def _options(preset: str, cache: str, **extra) -> DecontaminateOptions:
    files = f"alpaca_eval={DATA / 'benchmarks' / 'alpaca_eval.jsonl'}"
    needs_alpaca = preset in ("all", "chat") or "alpaca_eval" in preset
    return DecontaminateOptions(
        benchmark=preset,
        bundled=True,
        benchmark_file=files if needs_alpaca else (),
        index_cache=cache,
        **extra,
    )


def _pairs() -> list[dict]:
    return [
        json.loads(line) for f in sorted((DATA / "ultrafeedback-pairs").glob("*.jsonl")) for line in f.open()
    ]


def _response(row: dict, field: str) -> str:
    value = row[field]
    return value if isinstance(value, str) else value[-1]["content"]


def quality(split: str, methods: tuple[str, ...], cache: str, show: int, model: str | None = None) -> None:
    rows = _pairs()
    pool = sentences_of([_response(r, "chosen" if split == "dev" else "rejected") for r in rows])
    sets = load_sets(DATA / "benchmarks", DATA / "truthfulqa" / "questions.jsonl")
    cases = make_cases(sets, split, [r["prompt"] for r in rows], pool, synthetic=2000)
    options = _options(
        "all", cache, methods=methods, embedding_model=model if "embedding" in methods else None
    )
    index, _ = load_index(options)
    start = time.perf_counter()
    scores = score_cases(cases, index, options)
    elapsed = time.perf_counter() - start
    benches = sorted({b for b, _ in scores.found})
    print(f"\n== split {split}, methods {','.join(methods)}: {len(cases):,} prompts, {elapsed:.1f} s")
    print(f"{'recall':<16}" + "".join(f"{b[:11]:>12}" for b in benches) + f"{'all':>8}")
    for kind in POSITIVE_KINDS:
        cells = [f"{scores.recall(kind, b):.3f}" if (b, kind) in scores.found else "-" for b in benches]
        print(f"{kind:<16}" + "".join(f"{c:>12}" for c in cells) + f"{scores.recall(kind):>8.3f}")
    print(f"{'false positives':<22}{'flagged':>8}{'of':>8}{'rate':>10}")
    for kind in NEGATIVE_KINDS:
        got, n = scores.flagged.get(kind, (0, 0))
        print(f"{kind:<22}{got:>8}{n:>8}{scores.fp_rate(kind):>10.3%}")
    if show:
        for case, hit in scores.misses[:show]:
            print(f"MISS {case.kind} {case.benchmark}/{case.question_id} -> {hit}: {case.text[:160]!r}")
        for case, hit, method in scores.false_positives[:show]:
            print(f"FP   {case.kind} -> {hit[:80]!r} {method}: {case.text[:160]!r}")


def speed(n: int, presets: list[str], cache: str, threads: int) -> None:
    rows = _pairs()
    pool = sentences_of([_response(r, "chosen") for r in rows])
    rng = random.Random(0)
    texts = [r["prompt"] for r in rows]
    texts += [f"{rows[i % len(rows)]['prompt']} {rng.choice(pool)}" for i in range(len(rows), n)]
    table = pa.table({"prompt": pa.array(texts[:n], pa.string())})
    print(f"\n== speed: {n:,} prompts ({table.nbytes / 1e6:.0f} MB of text), {os.cpu_count()} cores")
    print(
        f"{'preset':<12}{'questions':>10}{'index s':>9}{'match s':>9}{'prompts/s':>11}{'removed':>9}{'+RSS MB':>9}"
    )
    for preset in presets:
        options = _options(preset, cache, threads=threads)
        load_index(options)  # the cache, as a second run finds it
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        index, _ = load_index(options)
        t_index = time.perf_counter() - start
        _, evidence = decontaminate_table(table, index, options)
        elapsed = time.perf_counter() - start
        grow = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(
            f"{preset:<12}{len(set(zip(index.benchmarks, index.ids, strict=True))):>10,}{t_index:>9.2f}"
            f"{elapsed - t_index:>9.2f}{n / elapsed:>11,.0f}{evidence.num_rows:>9,}{grow:>9.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--quality", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--speed", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--prompts", type=int, default=64_000, help="prompts of the speed run")
    parser.add_argument("--presets", default="truthfulqa,chat,all", help="presets of the speed run")
    parser.add_argument(
        "--threads", type=int, default=0, help="matching threads (0: one per core, at most 4)"
    )
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N misses and FPs")
    parser.add_argument(
        "--embedding-model",
        default=None,
        help="a static embedding model (folder or Hub id): also measure with it",
    )
    args = parser.parse_args(argv)
    if not (DATA / "benchmarks").exists():
        print(
            f"missing {DATA / 'benchmarks'}: the benchmark needs the offline benchmark copies",
            file=sys.stderr,
        )
        return 2
    print(f"targets: {TARGETS}; presets: " + ", ".join(f"{k}={'+'.join(v)}" for k, v in PRESETS.items()))
    with tempfile.TemporaryDirectory() as cache:
        if args.quality:
            for split in ("dev", "test") if args.split == "both" else (args.split,):
                with_paraphrase = (*DEFAULT_METHODS, "paraphrase")
                runs = [DEFAULT_METHODS, with_paraphrase] + [METHODS] * bool(args.embedding_model)
                for methods in runs:
                    quality(split, methods, cache, args.show_errors, args.embedding_model)
        if args.speed:
            speed(args.prompts, args.presets.split(","), cache, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
