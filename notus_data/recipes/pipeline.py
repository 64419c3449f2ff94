"""Run a recipe end to end: load -> review decisions -> score -> flag -> decontaminate -> binarize -> split -> write.

:func:`run` streams the input batch by batch through the steps (pure functions over Arrow tables), so memory holds
a batch, the fixed-size counters of the card, and one 8-byte split key per pair. The output is a Hub-ready folder::

    OUTPUT/
      README.md                      dataset card (YAML metadata + prose generated from this run)
      data/{split}-0000i-of-0000N.parquet
      plots/*.png                    score distributions, rating/score agreement, funnel
      evidence/flags.parquet         flagged completions, with reasons (flag step)
      evidence/decontamination.parquet   removed rows, with benchmark, question, method, score
      evidence/review_changes.parquet    what the review decisions changed (review step)
      recipe.yaml                    the resolved recipe: run it again with `notus-data run OUTPUT/recipe.yaml`
      report.json                    the run's accounting (rows in, removed at each step and why, pairs out)

The folder appears atomically when the run succeeds. The same input, recipe and seed give the same bytes, whatever
the batch size: draws and splits are functions of (seed, prompt_id), shards have fixed row groups, and the card
holds counts only. The report with timings also goes beside the folder (``OUTPUT.report.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from notus_data.binarize import binarize_table, check_score_source, removed_outcomes
from notus_data.card import CardContext, SplitFiles, funnel_lines, write_card
from notus_data.compare import CompareOptions, Comparison, compare_table
from notus_data.errors import MissingDependencyError, OptionError
from notus_data.formats import SCHEMAS
from notus_data.io import (
    AtomicWriter,
    atomic_path,
    guard_outputs,
    is_local,
    load_ultrafeedback,
    report_path,
    write_marker,
)
from notus_data.progress import progress_bar
from notus_data.recipes.config import Recipe, resolve_recipe
from notus_data.recipes.splits import ShardedWriter, SplitPlan, split_keys
from notus_data.recipes.stats import Evidence, ScoreStats, add_decontamination_evidence, add_flag_evidence
from notus_data.report import Report
from notus_data.scoring import score_counts, score_table

DEFAULT_OUTPUT_ROOT = Path("out")


def _check_output(output: Path, recipe: Recipe) -> None:
    if output.suffix:
        raise OptionError(
            f"output: {output} looks like a file; a recipe writes a folder (e.g. out/{output.stem})"
        )
    if output.exists() and not output.is_dir():
        raise OptionError(f"output: {output} exists and is not a folder")
    inputs = [recipe.input, recipe.review.decisions]
    if recipe.decontaminate is not None:
        from notus_data.decontaminate.benchmarks import benchmark_paths

        inputs += benchmark_paths(recipe.decontaminate.benchmark_file)
    guard_outputs("run", [output, report_path(output)], inputs)


def _file_sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def describe_source(recipe: Recipe, source: Any) -> dict[str, Any]:
    """The input and its revision: the Hub revision, or the content sha256 of local files."""
    info: dict[str, Any] = {"input": recipe.input, "split": recipe.load.split, "revision": source.revision}
    path = Path(recipe.input)
    if is_local(recipe.input):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        info["kind"] = "folder" if path.is_dir() else "file"
        info["sha256"] = _file_sha256(files)
    else:
        info["kind"] = "hub"
    return info


# ------------------------------------------------------------------------------------------- optional steps


# ----------------------------------------------------------------------------------------------- pair sink


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


# ------------------------------------------------------------------------------------------------- the run


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


class _Steps:
    """The steps of one run, set up once (decisions loaded, benchmark index built), then applied batch by batch
    with :meth:`process`; they also gather the counts the card reports."""

    def __init__(self, recipe: Recipe, source: Any, report: Report, timings: dict[str, float]) -> None:
        self.recipe, self.report, self.timings = recipe, report, timings
        self.options = recipe.binarize
        self.tracker = None
        if recipe.review.decisions:
            from notus_data.review.apply import DecisionTracker, load_decisions

            self.tracker = DecisionTracker(load_decisions(recipe.review.decisions))
        self.decontaminator = None
        if recipe.decontaminate is not None:
            with _timed(timings, "decontaminate_index"):
                from notus_data.decontaminate import DecontaminationStep

                self.decontaminator = DecontaminationStep(recipe.decontaminate)
        self.compare_with = None
        layout = source.layout
        if recipe.card.compare and layout is not None and layout.has_ratings:
            if "overall_score" in layout.completion_fields:
                self.compare_with = CompareOptions(seed=self.options.seed).binarizations()
        self.comparison = (
            Comparison(a="notus (avg-rating)", b="zephyr (overall-score)") if self.compare_with else None
        )
        self.scores = ScoreStats(self.options.format, self.options.score)
        self.flags = Evidence(recipe.card.examples) if recipe.flag is not None else None
        self.decontamination = Evidence(recipe.card.examples) if self.decontaminator is not None else None
        self.flags_writer: AtomicWriter | None = None
        self.evidence_writer: AtomicWriter | None = None

    def open_evidence(self, folder: Path, stack: contextlib.ExitStack, files: dict[str, str]) -> None:
        """Open the evidence files of the flag and decontaminate steps inside the output folder."""
        if self.recipe.flag is not None:
            from notus_data.flag import FLAGGED_SCHEMA

            files["flags"] = "evidence/flags.parquet"
            self.flags_writer = stack.enter_context(AtomicWriter(folder / files["flags"], FLAGGED_SCHEMA))
        if self.decontaminator is not None:
            files["decontamination"] = "evidence/decontamination.parquet"
            from notus_data.decontaminate import EVIDENCE_SCHEMA

            schema = EVIDENCE_SCHEMA
            self.evidence_writer = stack.enter_context(
                AtomicWriter(folder / files["decontamination"], schema)
            )

    def process(self, batch: pa.Table) -> pa.Table:
        """One canonical batch through review -> score -> flag -> decontaminate -> binarize; returns its pairs."""
        timed, report, table = self.timings, self.report, batch
        if self.tracker is not None:
            with _timed(timed, "review"):
                table = self.tracker.apply(table)
        with _timed(timed, "score"):
            table = score_table(table, self.options.score_options())
            report.add_step("score", score_counts(table))
        if self.flags_writer is not None:
            from notus_data.flag import flag_counts, flag_table

            with _timed(timed, "flag"):
                flagged = flag_table(table, self.recipe.flag)
                self.flags_writer.write(flagged)
                report.add_step("flag", flag_counts(table, flagged)[0])
                add_flag_evidence(self.flags, flagged)
        if self.decontaminator is not None:
            with _timed(timed, "decontaminate"):
                keep, hits = self.decontaminator.apply(table)
                if not keep.all():
                    report.add_outcomes(removed_outcomes(table.filter(pa.array(~keep)), "decontaminated"))
                    table = table.filter(pa.array(keep))
                self.evidence_writer.write(hits)
                add_decontamination_evidence(self.decontamination, hits)
                report.add_step(
                    "decontaminate", {"rows_checked": batch.num_rows, "rows_removed": hits.num_rows}
                )
        if self.comparison is not None:
            with _timed(timed, "compare"):
                compare_table(table, *self.compare_with, self.comparison)
        with _timed(timed, "binarize"):
            self.scores.add_completions(table)
            pairs, outcomes = binarize_table(table, self.options)
            report.add_outcomes(outcomes)
            self.scores.add_pairs(pairs)
        return pairs

    def finish(self, folder: Path, stack: contextlib.ExitStack, files: dict[str, str]) -> None:
        """Add each step's closing section to the report (and write the review changes)."""
        if self.tracker is not None:
            files["review_changes"] = "evidence/review_changes.parquet"
            self.report.add_step("review", self.tracker.counts())
            stack.enter_context(AtomicWriter(folder / files["review_changes"])).write(self.tracker.changes())
        if self.decontaminator is not None:
            self.report.add_step("decontaminate", self.decontaminator.describe())
        if self.recipe.flag is not None:
            from notus_data.flag import REASONS

            self.report.add_step("flag", {"reasons": {r: REASONS[r] for r in self.recipe.flag.rules}})


def run(
    recipe: str | os.PathLike | Recipe = "notus-cleaned",
    *,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    **overrides: Any,
) -> Report:
    """Run ``recipe`` (a bundled name, a YAML file or a :class:`Recipe`) and write a Hub-ready folder.

    ``overrides`` are recipe fields by name (``input=``, ``min_margin=``, ``benchmark_file=``, ``flag=False``, ...;
    see :meth:`Recipe.with_overrides`). ``output`` defaults to ``out/{recipe name}``. Returns the run's
    :class:`Report`: rows in, rows removed at each step and why, pairs out, with a section per step.

    >>> report = run("notus-cleaned", input="data/ultrafeedback-sample.parquet",
    ...              benchmark_file="data/truthfulqa-questions.jsonl")  # doctest: +SKIP
    >>> report.rows_out  # doctest: +SKIP
    390
    """
    resolved = resolve_recipe(recipe, **overrides)
    output = Path(output) if output is not None else DEFAULT_OUTPUT_ROOT / resolved.name
    _check_output(output, resolved)
    if resolved.card.plots and importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError(
            "the card's plots need matplotlib: install it with pip install 'notus-data[notebook]' "
            "(or run without plots: --no-plots / plots=False)"
        )
    started = time.perf_counter()
    timings: dict[str, float] = {}
    load = resolved.load
    source = load_ultrafeedback(
        resolved.input,
        revision=load.revision,
        split=load.split,
        streaming=load.streaming,
        with_critique=resolved.flag is not None,
    )
    check_score_source(source, resolved.binarize.score)
    report = Report("run")
    report.info.update({"recipe": resolved.name, "input": resolved.input, "output": str(output)})
    report.info["source"] = describe_source(resolved, source)
    steps = _Steps(resolved, source, report, timings)
    schema = SCHEMAS[resolved.binarize.format]
    files: dict[str, str] = {"recipe": "recipe.yaml", "report": "report.json"}

    with atomic_path(output) as tmp, contextlib.ExitStack() as stack:
        tmp.mkdir(parents=True)
        write_marker(tmp, "run")
        sink = _PairSink(tmp, resolved, schema)
        stack.push(lambda exc_type, exc, tb: sink.abort() if exc_type is not None else None)
        steps.open_evidence(tmp, stack, files)
        bar = stack.enter_context(progress_bar(f"run {resolved.name}", source.num_rows, progress))
        batches = source.iter_batches(load.batch_size)
        while True:
            with _timed(timings, "load"):
                batch = next(batches, None)
            if batch is None:
                break
            pairs = steps.process(batch)
            with _timed(timings, "write"):
                sink.write(pairs)
            bar.advance(batch.num_rows)
        with _timed(timings, "split"):
            plan = sink.finish(load.batch_size)
        steps.finish(tmp, stack, files)
        report.add_step(
            "split",
            {
                "splits": plan.layout,
                "prompts": plan.n_prompts,
                "test_prompts": plan.n_test,
                "test_sft_prompts": plan.n_test_sft,
                "rows": {name: w.rows for name, w in sink.writers.items()},
            },
        )
        report.problems = source.problems
        report.check()
        _write_card_files(tmp, resolved, report, steps, sink, plan, schema, files, timings)

    report.info["seconds"] = round(time.perf_counter() - started, 3)
    report.info["timings"] = {k: round(v, 3) for k, v in timings.items()}
    report.write_json(report_path(output))
    return report


def _write_card_files(
    folder: Path,
    recipe: Recipe,
    report: Report,
    steps: _Steps,
    sink: _PairSink,
    plan: SplitPlan,
    schema: pa.Schema,
    files: dict[str, str],
    timings: dict[str, float],
) -> None:
    """The plots, README.md, recipe.yaml and report.json of the output folder."""
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
        scores=steps.scores.to_dict(),
        comparison=steps.comparison.to_dict() if steps.comparison is not None else None,
        flags=steps.flags.to_dict() if steps.flags is not None else None,
        decontamination=steps.decontamination.to_dict() if steps.decontamination is not None else None,
        files=files,
    )
    if recipe.card.plots:
        with _timed(timings, "plots"):
            ctx.plots = write_plots(folder / "plots", ctx)
    with _timed(timings, "card"):
        write_card(folder, ctx)
        (folder / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
        _write_folder_report(folder / "report.json", report)


def _write_folder_report(path: Path, report: Report) -> None:
    """The report inside the folder: no timings and no output path, keys sorted (same run, same bytes)."""
    data = report.to_dict()
    data["info"] = {k: v for k, v in data["info"].items() if k not in ("output", "seconds", "timings")}
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
