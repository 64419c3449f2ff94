"""The sink of a recipe run: a Hub-ready folder, written as the batches come and made whole at the end::

    OUTPUT/
      README.md                      dataset card (YAML metadata + prose generated from this run)
      data/{split}-0000i-of-0000N.parquet
      plots/*.png                    score distributions, rating/score agreement, funnel, lengths
      evidence/flags.parquet         flagged completions, with reasons (flag step)
      evidence/decontamination.parquet   removed rows, with benchmark, question, method, score
      evidence/review_changes.parquet    what the review decisions changed (review step)
      recipe.yaml                    the resolved recipe, its paths relative to it: run it again from the folder
                                     that holds OUTPUT with `notus-data run OUTPUT/recipe.yaml --output NEW`
      report.json                    the run's accounting (rows in, removed at each step and why, pairs out)

The folder appears atomically when the run succeeds (and replaces only an earlier run's folder). Memory holds a
batch, the fixed-size counters of the card, and one 8-byte split key per pair. The same input, recipe and seed
give the same bytes whatever the batch size or engine: draws and splits are functions of (seed, prompt_id),
shards have fixed row groups, and the card holds counts only.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.card import CardContext, SplitFiles, funnel_lines, write_card
from notus_data.card.length import write_length_plot
from notus_data.errors import os_errors
from notus_data.io.atomic import AtomicWriter, atomic_path
from notus_data.io.paths import is_local, sidecar_path, write_marker
from notus_data.io.sinks import Sink
from notus_data.recipes.config import RERUN, Recipe
from notus_data.recipes.splits import ShardedWriter, SplitPlan, split_keys
from notus_data.report import Report
from notus_data.stats import Evidence, ScoreStats, add_decontamination_evidence, add_flag_evidence

#: side stream -> (its file in the folder, its name in the card's list of files)
EVIDENCE_FILES = {
    "flags": ("evidence/flags.parquet", "flags"),
    "evidence": ("evidence/decontamination.parquet", "decontamination"),
    "changes": ("evidence/review_changes.parquet", "review_changes"),
}


@contextlib.contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


class _PairSink:
    """Where pairs go during the pass: straight into the shards (one split), or a spill file for a split plan
    that needs every key first. Also keeps each pair's split key (8 bytes a pair)."""

    def __init__(self, folder: Path, recipe: Recipe, schema: pa.Schema) -> None:
        self.folder = folder
        self.recipe = recipe
        self.schema = schema
        self.keys: list[np.ndarray] = []
        self.direct = recipe.split.splits == "train"
        self.spill_path = folder / ".work" / "pairs.parquet"
        self._spill: pq.ParquetWriter | None = None
        self.writers: dict[str, ShardedWriter] = {}
        if self.direct:
            self.writers["train"] = self._writer("train")

    def _writer(self, split: str) -> ShardedWriter:
        return ShardedWriter(self.folder / "data", split, self.schema, self.recipe.split.shard_rows)

    def write(self, pairs: pa.Table) -> None:
        keys = split_keys(pairs.column("prompt_id"), self.recipe.binarize.seed)
        self.keys.append(keys)
        if self.direct:
            self.writers["train"].write(pairs)
            return
        if pairs.num_rows == 0:
            return
        if self._spill is None:
            self.spill_path.parent.mkdir(parents=True, exist_ok=True)
            self._spill = pq.ParquetWriter(self.spill_path, self.schema, compression="lz4")
        self._spill.write_table(pairs)

    def finish(self, batch_size: int) -> SplitPlan:
        """Plan the splits, route the spilled pairs into their shards, close every shard."""
        keys = np.concatenate(self.keys) if self.keys else np.zeros(0, dtype=np.uint64)
        plan = SplitPlan.from_keys(keys, self.recipe.split)
        if not self.direct:
            for name in plan.names:
                self.writers[name] = self._writer(name)
            if self._spill is not None:
                self._spill.close()
                start = 0
                for batch in pq.ParquetFile(self.spill_path).iter_batches(batch_size=batch_size):
                    table = pa.Table.from_batches([batch])
                    for name, rows in plan.route(table, keys[start : start + table.num_rows]).items():
                        self.writers[name].write(rows)
                    start += table.num_rows
                self.spill_path.unlink()
            with contextlib.suppress(OSError):
                self.spill_path.parent.rmdir()
        for writer in self.writers.values():
            writer.close()
        return plan

    def abort(self) -> None:
        if self._spill is not None:
            self._spill.close()
        for writer in self.writers.values():
            writer.abort()


def _import_all(modules: list[str]) -> None:
    for module in modules:
        with contextlib.suppress(ImportError):  # a missing one fails later, where it is needed, with its fix
            importlib.import_module(module)


class RecipeSink(Sink):
    """Writes a recipe run's folder (see the module docstring). ``streams``: the side streams the run's steps
    give (``flags``, ``evidence``, ``changes``), each with its schema."""

    command = "run"

    def __init__(
        self, output: Path, recipe: Recipe, schema: pa.Schema, streams: dict[str, pa.Schema]
    ) -> None:
        self.output, self.recipe, self.schema, self.streams = Path(output), recipe, schema, streams
        self.timings: dict[str, float] = {}
        self.files: dict[str, str] = {"recipe": "recipe.yaml", "report": "report.json"}
        self.scores = ScoreStats(recipe.binarize.format, recipe.binarize.score)
        self.evidence = {
            name: Evidence(recipe.card.examples) for name in ("flags", "evidence") if name in streams
        }
        self._stack = contextlib.ExitStack()
        self._writers: dict[str, AtomicWriter] = {}

    def paths(self) -> list[Any]:
        return [self.output, run_facts_path(self.output)]

    def open(self) -> None:
        # matplotlib loads in the background while the batches are processed (most of a second; a few MiB).
        # datasets, which the card's metadata needs, is not: it weighs about 85 MiB, which would add to the peak.
        modules = ["matplotlib.figure", "matplotlib.backends.backend_agg"] if self.recipe.card.plots else []
        self._imports = threading.Thread(
            target=_import_all, args=(modules,), name="notus-data-imports", daemon=True
        )
        self._imports.start()
        self.folder = self._stack.enter_context(atomic_path(self.output))
        self.folder.mkdir(parents=True)
        write_marker(self.folder, "run")
        self.pairs = _PairSink(self.folder, self.recipe, self.schema)
        for name, schema in self.streams.items():
            path, key = EVIDENCE_FILES[name]
            self.files[key] = path
            self._writers[name] = self._stack.enter_context(AtomicWriter(self.folder / path, schema))

    def write(self, result: Any) -> None:
        with timed(self.timings, "write"), os_errors(self.output):
            self.pairs.write(result.main)
            self.scores.add_pairs(result.main)
            for name, tables in result.side.items():
                for table in tables:
                    self.write_side(name, table)

    def write_side(self, name: str, table: pa.Table) -> None:
        self._writers[name].write(table)
        if name == "flags":
            add_flag_evidence(self.evidence["flags"], table)
        elif name == "evidence":
            add_decontamination_evidence(self.evidence["evidence"], table)

    def close(self, report: Report, stats: dict[str, Any]) -> None:
        with os_errors(self.output):
            self._close(report, stats)

    def _close(self, report: Report, stats: dict[str, Any]) -> None:
        with timed(self.timings, "split"):
            plan = self.pairs.finish(self.recipe.load.batch_size)
        report.add_step(
            "split",
            {
                "splits": plan.layout,
                "prompts": plan.n_prompts,
                "test_prompts": plan.n_test,
                "test_sft_prompts": plan.n_test_sft,
                "rows": {name: w.rows for name, w in self.pairs.writers.items()},
            },
        )
        self._imports.join()
        measured = {
            "scores": stats["scores"].merge(self.scores) if "scores" in stats else self.scores,
            "comparison": stats.get("comparison"),
            "length": stats.get("length"),
            "flags": self.evidence.get("flags"),
            "decontamination": self.evidence.get("evidence"),
        }
        _write_card_files(
            self.folder,
            self.recipe,
            report,
            measured,
            self.pairs,
            plan,
            self.schema,
            self.files,
            self.timings,
            self.output,
        )
        self._stack.close()

    def abort(self) -> None:
        with contextlib.suppress(AttributeError):
            self.pairs.abort()
        self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def finalize(self, report: Report) -> None:
        """The run's facts (seconds, timings, engine) go beside the folder, as ``OUTPUT.run.json``: never inside
        it, so that the folder's bytes are the same on every run; the report is the folder's report.json."""
        report.info.setdefault("timings", {}).update({k: round(v, 3) for k, v in self.timings.items()})
        facts = {
            "command": "run",
            "recipe": report.info.get("recipe"),
            "report": f"{self.output}/report.json",
        }
        facts.update({k: report.info[k] for k in RUN_FACTS if k in report.info})
        with atomic_path(run_facts_path(self.output)) as tmp:
            tmp.write_text(json.dumps(facts, indent=2, default=str) + "\n", encoding="utf-8")


def run_facts_path(output: str | os.PathLike) -> Path:
    """Where a run's facts go: beside the folder, ``OUTPUT.run.json``."""
    return sidecar_path(output, "run.json")


def _write_card_files(
    folder: Path,
    recipe: Recipe,
    report: Report,
    measured: dict[str, Any],
    sink: _PairSink,
    plan: SplitPlan,
    schema: pa.Schema,
    files: dict[str, str],
    timings: dict[str, float],
    final: Path,
) -> None:
    """The plots, README.md, recipe.yaml and report.json of the output folder (written in ``folder``, its
    temporary path; ``final`` is where it will be, which its relative paths start from)."""
    splits = {
        name: SplitFiles(
            rows=w.rows,
            nbytes=w.nbytes,
            files=[p.relative_to(folder).as_posix() for p in w.files],
            file_bytes=sum(p.stat().st_size for p in w.files),
        )
        for name, w in ((n, sink.writers[n]) for n in plan.names)
        if w.rows  # datasets cannot load an empty split: it is left out (the card says so)
    }
    ctx = CardContext(
        recipe=recipe,
        report=report.to_dict(),
        source=report.info["source"],
        splits=splits,
        schema=schema,
        scores=measured["scores"].to_dict(),
        comparison=measured["comparison"].to_dict() if measured.get("comparison") is not None else None,
        flags=measured["flags"].to_dict() if measured.get("flags") is not None else None,
        decontamination=measured["decontamination"].to_dict() if measured.get("decontamination") else None,
        length_histogram=measured["length"].histogram() if measured.get("length") is not None else None,
        files=files,
        rerun=RERUN,
    )
    if recipe.card.plots:
        with timed(timings, "plots"):
            ctx.plots = write_plots(folder / "plots", ctx)
            ctx.length_plot = write_length_plot(folder / "plots", ctx)
    with timed(timings, "card"):
        write_card(folder, ctx)
        (folder / "recipe.yaml").write_text(recipe.to_yaml(final), encoding="utf-8")
        _write_folder_report(folder / "report.json", report, final)


#: What a run's report says about how it went, not what it did: left out of the folder, written beside it.
RUN_FACTS = ("output", "seconds", "timings", "engine")


def _write_folder_report(path: Path, report: Report, final: Path) -> None:
    """The report inside the folder: no timings, output path or engine, the input's path relative to the folder,
    keys sorted (same run, same bytes, wherever one stands)."""
    data = report.to_dict()
    data["info"] = {k: v for k, v in data["info"].items() if k not in RUN_FACTS}

    def relative(path: str) -> str:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(final)) if is_local(path) else path

    for info in (data["info"], data["info"].get("source") or {}):
        if isinstance(info.get("input"), str):
            info["input"] = relative(info["input"])
    for benchmark in data["steps"].get("decontaminate", {}).get("benchmarks") or []:
        if isinstance(benchmark, dict) and isinstance(benchmark.get("file"), str):
            benchmark["file"] = relative(benchmark["file"])
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def write_plots(folder: Path, ctx: CardContext) -> list[tuple[str, str]]:
    """Draw the card's plots into ``folder``; returns (title, path relative to the output folder)."""
    from notus_data import plots

    drawn = [
        (
            "Score distributions of the completions",
            "completion_scores.png",
            plots.completion_scores(ctx.scores),
        ),
        ("Chosen and rejected scores of the pairs", "pair_scores.png", plots.pair_scores(ctx.scores)),
        ("overall_score vs mean rating", "agreement.png", plots.agreement(ctx.scores)),
        (
            "Funnel",
            "funnel.png",
            plots.funnel([(label, n) for label, n, _ in funnel_lines(ctx.report)]),
        ),
    ]
    out = []
    for title, name, fig in drawn:
        plots.save_png(fig, folder / name)
        out.append((title, f"{folder.name}/{name}"))
    return out
