"""Golden outputs: every job, strategy, format, output kind and recipe, run on the bundled sample and on generated
data, with the sha256 of every file it writes and the counts of its report.

The cases run through the CLI (as a user types them), so they hold across any reorganisation of the library.
``tests/golden/golden.json`` holds what they gave when it was recorded; ``tests/test_golden.py`` runs them again
and compares every byte and every count. Record again only when a change of bytes is intended, and say which
and why in the commit:

    python tests/golden_cases.py --record

The bytes of parquet files and PNG plots depend on the versions of pyarrow and matplotlib (and the card's YAML on
datasets and huggingface_hub); the versions are recorded beside the digests, and CI installs the same ones
(scripts/constraints.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "ultrafeedback-sample.parquet"
TRUTHFULQA = REPO / "data" / "truthfulqa-questions.jsonl"
GOLDEN = Path(__file__).resolve().parent / "golden" / "golden.json"
VERSIONED = ("pyarrow", "datasets", "huggingface_hub", "matplotlib", "numpy")
#: Report keys that say where and how long a run took, not what it did.
VOLATILE_INFO = {"seconds", "timings", "engine"}


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # CLI arguments; {in}, {gen}, {genjsonl}, {tqa}, {out}, {work} are filled in
    outputs: tuple[str, ...]  # paths under {out} whose files are digested ("" = the whole output folder)
    report: str | None = None  # the report whose counts are kept (a path under {out})
    setup: Callable[[Path], None] | None = None


def _binarize_cases() -> list[Case]:
    cases = []
    for strategy in ("notus", "notus-drawties", "zephyr", "best-vs-worst", "best-vs-all", "all-pairs"):
        for fmt in ("notus", "cleaned", "h4"):
            cases.append(
                Case(
                    f"binarize-{strategy}-{fmt}",
                    ("binarize", "{in}", "{out}/pairs.parquet", "--strategy", strategy, "--format", fmt),
                    ("pairs.parquet",),
                    "pairs.report.json",
                )
            )
        cases.append(
            Case(
                f"binarize-generated-{strategy}",
                ("binarize", "{gen}", "{out}/pairs.parquet", "--strategy", strategy, "--seed", "7"),
                ("pairs.parquet",),
                "pairs.report.json",
            )
        )
    filters = {
        "margin": ("--min-margin", "1", "--drop-identical-text"),
        "chosen-score": ("--min-chosen-score", "4.5", "--strategy", "best-vs-all"),
        "drop-ties": ("--strategy", "zephyr", "--drop-ties", "--format", "h4"),
        "overall": ("--score", "overall-score"),
        "fine-grained": ("--score", "fine-grained-score", "--strategy", "best-vs-worst"),
        "weights": ("--aspects", "helpfulness,honesty", "--weights", "2,1"),
    }
    for name, extra in filters.items():
        cases.append(
            Case(f"binarize-{name}", ("binarize", "{in}", "{out}/pairs.parquet", *extra), ("pairs.parquet",),
                 "pairs.report.json")
        )  # fmt: skip
    for fmt in ("trl", "kto", "openrlhf"):  # the trainers' formats (jsonl: bytes independent of pyarrow)
        cases.append(
            Case(f"binarize-format-{fmt}", ("binarize", "{in}", "{out}/pairs.jsonl", "--format", fmt,
                 "--strategy", "best-vs-all"), ("pairs.jsonl",), "pairs.report.json")
        )  # fmt: skip
    cases += [
        Case("binarize-format-llama-factory", ("binarize", "{in}", "{out}/pairs.jsonl", "--format", "llama-factory"),
             ("pairs.jsonl", "dataset_info.json"), "pairs.report.json"),
        Case("binarize-max-length-ratio", ("binarize", "{in}", "{out}/pairs.parquet", "--max-length-ratio", "2"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("convert-h4-trl", ("convert", "{work}/h4.jsonl", "{out}/pairs.jsonl", "--format", "trl"),
             ("pairs.jsonl",), "pairs.report.json", setup=lambda w: _h4_pairs(w)),
        Case("convert-h4-llama-factory",
             ("convert", "{work}/h4.jsonl", "{out}/pairs.jsonl", "--format", "llama-factory", "--batch-size", "9"),
             ("pairs.jsonl", "dataset_info.json"), "pairs.report.json", setup=lambda w: _h4_pairs(w)),
    ]  # fmt: skip
    cases += [
        Case("binarize-jsonl-out", ("binarize", "{in}", "{out}/pairs.jsonl", "--format", "h4"), ("pairs.jsonl",),
             "pairs.report.json"),
        Case("binarize-folder-out", ("binarize", "{in}", "{out}/pairs", "--format", "cleaned"), ("pairs",),
             "pairs.report.json"),
        Case("binarize-jsonl-in", ("binarize", "{genjsonl}", "{out}/pairs.parquet"), ("pairs.parquet",),
             "pairs.report.json"),
        Case("binarize-small-batches", ("binarize", "{in}", "{out}/pairs.parquet", "--batch-size", "7"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("binarize-decontaminate",
             ("binarize", "{in}", "{out}/pairs.parquet", "--benchmark-file", "{tqa}", "--format", "cleaned"),
             ("pairs.parquet", "pairs.decontamination.parquet"), "pairs.report.json"),
        Case("binarize-decisions",
             ("binarize", "{in}", "{out}/pairs.parquet", "--decisions", "{work}/decisions.parquet",
              "--strategy", "zephyr"),
             ("pairs.parquet", "pairs.changes.jsonl"), "pairs.report.json", setup=lambda w: _decisions(w)),
        Case("review-apply",
             ("review", "apply", "{in}", "{out}/pairs.jsonl", "--decisions", "{work}/decisions.parquet",
              "--strategy", "best-vs-worst", "--score", "overall-score"),
             ("pairs.jsonl", "pairs.changes.jsonl"), "pairs.report.json", setup=lambda w: _decisions(w)),
        Case("review-pairs-apply",
             ("review", "pairs", "apply", "{work}/h4.jsonl", "{out}/reviewed.jsonl", "--decisions",
              "{work}/pair-decisions.parquet"),
             ("reviewed.jsonl", "reviewed.changes.jsonl"), "reviewed.report.json",
             setup=lambda w: _pair_decisions(w)),
    ]  # fmt: skip
    return cases


def _other_cases() -> list[Case]:
    return [
        Case("flag", ("flag", "{in}", "{out}/flags.parquet"), ("flags.parquet",), "flags.report.json"),
        Case("flag-jsonl", ("flag", "{gen}", "{out}/flags.jsonl", "--rules", "score10_low_rating,chosen_mismatch"),
             ("flags.jsonl",), "flags.report.json"),
        Case("decontaminate",
             ("decontaminate", "{in}", "{out}/clean.parquet", "--benchmark-file", "{tqa}"),
             ("clean.parquet", "clean.decontamination.parquet"), "clean.report.json"),
        Case("decontaminate-pairs",
             ("decontaminate", "{work}/h4.jsonl", "{out}/clean.jsonl", "--benchmark-file", "{tqa}",
              "--check-responses"),
             ("clean.jsonl", "clean.decontamination.jsonl"), "clean.report.json", setup=lambda w: _h4_pairs(w)),
        Case("decontaminate-dry-run",
             ("decontaminate", "{gen}", "{out}/clean", "--benchmark-file", "{tqa}", "--dry-run"),
             ("clean.decontamination.parquet",), "clean.report.json"),
        Case("compare", ("compare", "{in}", "--output", "{out}/compare.json"), ("compare.json",)),
        Case("compare-generated", ("compare", "{gen}", "--a", "best-vs-worst", "--b", "zephyr", "--output",
                                   "{out}/compare.json"), ("compare.json",)),
        Case("run-notus-v1", ("run", "notus-v1", "--input", "{in}", "--output", "{out}/run"), ("run",),
             "run/report.json"),
        Case("run-notus-cleaned",
             ("run", "notus-cleaned", "--input", "{in}", "--benchmark-file", "{tqa}", "--output", "{out}/run"),
             ("run",), "run/report.json"),
        Case("run-zephyr",
             ("run", "zephyr", "--input", "{in}", "--benchmark-file", "{tqa}", "--output", "{out}/run"),
             ("run",), "run/report.json"),
        Case("run-multi-binarized",
             ("run", "multi-binarized", "--input", "{gen}", "--output", "{out}/run", "--no-plots"),
             ("run",), "run/report.json"),
        Case("run-notus-v1-drawties",
             ("run", "notus-v1-drawties", "--input", "{in}", "--output", "{out}/run", "--no-plots"),
             ("run",), "run/report.json"),
        Case("explain",
             ("explain", "{in}", "{work}/published-b.parquet", "--output", "{out}/explain.parquet"),
             ("explain.parquet", "explain.report.json"), "explain.report.json", setup=lambda w: _published(w)),
        Case("explain-pairs",
             ("explain", "{work}/h4.jsonl", "{work}/published-b.parquet", "--output", "{out}/explain.jsonl"),
             ("explain.jsonl", "explain.report.json"), "explain.report.json",
             setup=lambda w: (_published(w), _h4_pairs(w))),
        Case("run-train-test-decisions",
             ("run", "notus-v1", "--input", "{in}", "--output", "{out}/run", "--splits", "train-test",
              "--decisions", "{work}/decisions.parquet", "--min-margin", "0.5", "--no-plots"),
             ("run",), "run/report.json", setup=lambda w: _decisions(w)),
    ]  # fmt: skip


def _source_cases() -> list[Case]:
    """The other source formats (docs/sources.md), on the synthetic samples in data/."""
    return [
        Case("binarize-helpsteer2", ("binarize", "{helpsteer2}", "{out}/pairs.parquet", "--format", "cleaned"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("binarize-helpsteer2-340b",
             ("binarize", "{helpsteer2}", "{out}/pairs.parquet", "--weights", "nvidia-340b", "--strategy", "all-pairs"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("binarize-nectar", ("binarize", "{nectar}", "{out}/pairs.jsonl", "--format", "cleaned"),
             ("pairs.jsonl",), "pairs.report.json"),
        Case("binarize-hh-rlhf", ("binarize", "{hh}", "{out}/pairs.parquet", "--format", "h4"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("binarize-rm-scored-columns",
             ("binarize", "{rm}", "{out}/pairs.parquet", "--columns",
              "prompt=prompt,responses=all_generated_responses,scores=all_rm_scores", "--lower-is-better"),
             ("pairs.parquet",), "pairs.report.json"),
        Case("run-nectar", ("run", "nectar", "--input", "{nectar}", "--output", "{out}/run", "--no-plots"),
             ("run",), "run/report.json"),
        Case("run-armorm-ultrafeedback",
             ("run", "armorm-ultrafeedback", "--input", "{rm}", "--output", "{out}/run", "--no-plots"),
             ("run",), "run/report.json"),
    ]  # fmt: skip


SOURCE_SAMPLES = {"helpsteer2": "helpsteer2", "nectar": "nectar", "hh": "hh-rlhf", "rm": "rm-scored"}
CASES = _binarize_cases() + _other_cases() + _source_cases()


# ------------------------------------------------------------------------------------------------ inputs


def _decisions(work: Path) -> None:
    """Review decisions for the first flagged completions of the sample: correct, discard, confirm in turn."""
    path = work / "decisions.parquet"
    if path.exists():
        return
    flags = work / "flags-for-decisions.parquet"
    _cli(("flag", str(work / SAMPLE.name), str(flags), "--quiet"))
    rows = pq.read_table(flags).slice(0, 30).to_pylist()
    kinds = ("correct", "discard", "confirm")
    pq.write_table(
        pa.table(
            {
                "prompt_id": [r["prompt_id"] for r in rows],
                "completion_index": pa.array([r["completion_index"] for r in rows], pa.int64()),
                "decision": [kinds[i % 3] for i in range(len(rows))],
                "corrected_score": pa.array(
                    [1.0 if i % 3 == 0 else None for i in range(len(rows))], pa.float64()
                ),
                "response_sha256": [r["response_sha256"] for r in rows],
            }
        ),
        path,
    )


def _pair_decisions(work: Path) -> None:
    """Pair decisions (as `review pairs pull` writes them) for the first 12 pairs of the h4 pairs: the chosen
    response better, the rejected one better, tie, both unusable, in turn."""
    path = work / "pair-decisions.parquet"
    if path.exists():
        return
    _h4_pairs(work)
    import pyarrow.compute as pc

    from notus_data.io.pairs import load_pairs
    from notus_data.review.pairs import a_is_chosen, pair_record_ids
    from notus_data.schema import sha256_hex

    pairs = next(load_pairs(work / "h4.jsonl").batches(12)).table
    chosen, rejected, pid = pairs["chosen"], pairs["rejected"], pairs["prompt_id"].combine_chunks()
    on_a = pa.array(a_is_chosen(pid, 42))
    a, b = pc.if_else(on_a, chosen, rejected), pc.if_else(on_a, rejected, chosen)
    said = [("chosen", "rejected", "tie", "unusable")[i % 4] for i in range(pairs.num_rows)]
    side = [
        {"chosen": "A" if x else "B", "rejected": "B" if x else "A"}.get(s, s)
        for s, x in zip(said, on_a.to_pylist(), strict=True)
    ]
    pq.write_table(
        pa.table({"record_id": pair_record_ids(pid, chosen, rejected), "a_sha256": sha256_hex(a.combine_chunks()),
                  "b_sha256": sha256_hex(b.combine_chunks()), "decision": side}),
        path,
    )  # fmt: skip


def _h4_pairs(work: Path) -> None:
    path = work / "h4.jsonl"
    if not path.exists():
        _cli(
            (
                "binarize",
                str(work / SAMPLE.name),
                str(path),
                "--strategy",
                "zephyr",
                "--format",
                "h4",
                "--quiet",
            )
        )


def _published(work: Path) -> None:
    """A published-style set: the sample binarized by rule (b) with another seed, in the -cleaned columns."""
    path = work / "published-b.parquet"
    if not path.exists():
        _cli(("binarize", str(work / SAMPLE.name), str(path), "--strategy", "notus-drawties", "--seed", "7",
              "--format", "cleaned", "--quiet"))  # fmt: skip


def make_inputs(work: Path) -> dict[str, str]:
    """Copy the bundled files into ``work`` and make the generated inputs there (deterministic, from
    notus_data.synthetic); return the paths the cases use, relative to ``work`` (the cases run inside it, so
    no absolute path reaches a recipe or a card)."""
    import shutil

    from notus_data import synthetic

    (work / "data").mkdir(parents=True, exist_ok=True)
    samples = [REPO / "data" / f"{kind}-sample.parquet" for kind in SOURCE_SAMPLES.values()]
    for source in (SAMPLE, TRUTHFULQA, *samples):
        if not (work / "data" / source.name).exists():
            shutil.copyfile(source, work / "data" / source.name)
    if not (work / "data" / "generated.parquet").exists():
        synthetic.write_parquet(work / "data" / "generated.parquet", 1500, seed=11, row_group_size=256)
    if not (work / "data" / "generated.jsonl").exists():
        synthetic.write_jsonl(work / "data" / "generated.jsonl", 600, seed=5)
    return {"in": f"data/{SAMPLE.name}", "gen": "data/generated.parquet", "genjsonl": "data/generated.jsonl",
            "tqa": f"data/{TRUTHFULQA.name}", "work": "data",
            **{key: f"data/{kind}-sample.parquet" for key, kind in SOURCE_SAMPLES.items()}}  # fmt: skip


# ------------------------------------------------------------------------------------------------- running


def _cli(args: tuple[str, ...]) -> None:
    from click.testing import CliRunner

    from notus_data.cli import main

    result = CliRunner().invoke(main, list(args))
    if result.exit_code != 0:
        raise AssertionError(f"notus-data {' '.join(args)} failed ({result.exit_code}):\n{result.output}")


def digests(root: Path, rel: str) -> dict[str, str]:
    path = root / rel if rel else root
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def report_counts(path: Path) -> dict:
    data = json.loads(path.read_text())
    data["info"] = {k: v for k, v in data.get("info", {}).items() if k not in VOLATILE_INFO}
    return data


def run_case(case: Case, paths: dict[str, str], work: Path) -> dict:
    """Run one case inside ``work`` (made by :func:`make_inputs`), its outputs under ``out/{case.name}``; return
    the digests of its files and its report's counts."""
    old = os.getcwd()
    os.chdir(work)
    try:
        out = Path("out") / case.name
        out.mkdir(parents=True, exist_ok=True)
        if case.setup is not None:
            case.setup(Path(paths["work"]))
        args = tuple(a.format(out=out, **paths) for a in case.args)
        _cli((*args, "--quiet", "--no-progress") if case.args[0] != "review" else (*args, "--quiet"))
        files: dict[str, str] = {}
        for rel in case.outputs:
            files.update(digests(out, rel))
        result: dict = {"files": files}
        if case.report:
            result["report"] = report_counts(out / case.report)
        return result
    finally:
        os.chdir(old)


def versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in VERSIONED}


def record(work: Path) -> None:
    paths = make_inputs(work)
    cases = {}
    for case in CASES:
        cases[case.name] = run_case(case, paths, work)
        print(f"{case.name}: {len(cases[case.name]['files'])} files")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    payload = {"versions": versions(), "cases": cases}
    GOLDEN.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(cases)} cases in {GOLDEN}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--record", action="store_true", help="run every case and write tests/golden/golden.json"
    )
    parser.add_argument("--work", default=None, help="scratch folder (default: a new temporary folder)")
    args = parser.parse_args()
    if not args.record:
        parser.error("nothing to do: pass --record")
    import tempfile

    os.environ.setdefault("NOTUS_DATA_GOLDEN", "1")
    sys.path.insert(0, str(REPO))
    record(Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="notus-golden-")))
