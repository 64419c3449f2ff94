"""Run a recipe end to end: load -> review decisions -> score -> flag -> decontaminate -> binarize -> split -> write.

:func:`run` builds the recipe's pipeline from the same steps as the other jobs (:mod:`notus_data.steps`), with a
:class:`~notus_data.recipes.sink.RecipeSink` that writes the Hub-ready folder, and hands it to an engine
(``local``, or ``ray`` for a cluster: the same folder, byte for byte). The report with timings also goes beside
the folder (``OUTPUT.report.json``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from notus_data.engines import EngineOptions
from notus_data.errors import MissingDependencyError, OptionError
from notus_data.formats import SCHEMAS
from notus_data.io.paths import is_local
from notus_data.io.rated import load_source
from notus_data.io.sources import input_paths
from notus_data.jobs.common import check_path, engine_kwargs
from notus_data.pipeline import Pipeline
from notus_data.recipes.config import (
    OPTIONAL_STEPS,
    SECTION_ORDER,
    Recipe,
    optional_step_class,
    resolve_recipe,
)
from notus_data.recipes.sink import RecipeSink
from notus_data.report import Report
from notus_data.steps.base import Step
from notus_data.steps.binarize import BinarizeStep
from notus_data.steps.compare import CompareOptions, CompareStep
from notus_data.steps.decisions import DecisionsStep
from notus_data.steps.profile import ProfileStep
from notus_data.steps.score import ScoreStep

DEFAULT_OUTPUT_ROOT = Path("out")


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
        info["revision"] = None  # a local file has no Hub revision
        info.update(_origin(files))
    else:
        info["kind"] = "hub"
    return info


def _origin(files: list[Path]) -> dict[str, Any]:
    """What a local parquet input says about itself (key ``notus_data`` of its schema metadata, as the bundled
    sample has): whether it is synthetic, and how it was made."""
    import pyarrow.parquet as pq

    for path in files:
        if path.suffix != ".parquet":
            continue
        try:
            metadata = pq.read_schema(path).metadata or {}
            found = json.loads(metadata.get(b"notus_data", b"{}"))
        except (OSError, ValueError):
            return {}
        out: dict[str, Any] = {}
        if isinstance(found, dict):
            if found.get("synthetic") is not None:
                out["synthetic"] = bool(found["synthetic"])
            if found.get("description"):
                out["description"] = str(found["description"])
        return out
    return {}


def recipe_steps(recipe: Recipe, source: Any) -> list[Step]:
    """The recipe's steps, in order: [decisions ->] score -> [flag ->] [decontaminate ->] [compare ->] profile ->
    binarize. An optional step (a section of :data:`~notus_data.recipes.config.OPTIONAL_STEPS`) runs when the
    recipe has its section on."""
    options = recipe.binarize
    steps: list[Step] = []
    if recipe.review.decisions:
        steps.append(DecisionsStep(recipe.review.decisions, name="review"))
    steps.append(ScoreStep(options.score_options()))
    for section in (s for s in SECTION_ORDER if s in OPTIONAL_STEPS):
        section_options = getattr(recipe, section)
        if section_options is not None:
            steps.append(optional_step_class(section, "step")(section_options))
    layout = getattr(source, "layout", None)
    if recipe.card.compare and layout is not None and layout.has_ratings:
        if "overall_score" in layout.completion_fields:
            steps.append(CompareStep(*CompareOptions(seed=options.seed).binarizations()))
    steps += [ProfileStep(options.format, options.score), BinarizeStep(options)]
    return steps


def _check_output(output: Path) -> None:
    if output.suffix:
        raise OptionError(
            f"output: {output} looks like a file; a recipe writes a folder (e.g. out/{output.stem})"
        )
    if output.exists() and not output.is_dir():
        raise OptionError(f"output: {output} exists and is not a folder")


def run(
    recipe: str | os.PathLike | Recipe = "notus-cleaned",
    *,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    num_blocks: int | None = None,
    **overrides: Any,
) -> Report:
    """Run ``recipe`` (a bundled name, a YAML file or a :class:`Recipe`) and write a Hub-ready folder.

    ``overrides`` are recipe fields by name (``input=``, ``min_margin=``, ``benchmark_file=``, ``flag=False``, ...;
    see :meth:`Recipe.with_overrides`). ``output`` defaults to ``out/{recipe name}``. ``engine="ray"`` runs the
    same pipeline on Ray (same folder bytes). Returns the run's :class:`Report`: rows in, rows removed at each
    step and why, pairs out, with a section per step.

    >>> report = run("notus-cleaned", input="data/ultrafeedback-sample.parquet",
    ...              benchmark_file="data/truthfulqa-questions.jsonl")  # doctest: +SKIP
    >>> report.rows_out  # doctest: +SKIP
    390
    """
    resolved = resolve_recipe(recipe, **overrides)
    engine_options = EngineOptions(engine=engine, ray_address=ray_address)
    output = Path(check_path(output, "output")) if output is not None else DEFAULT_OUTPUT_ROOT / resolved.name
    _check_output(output)
    if resolved.card.plots and importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError(
            "the card's plots need matplotlib: install it with pip install 'notus-data[notebook]' "
            "(or run without plots: --no-plots / plots=False)"
        )
    load = resolved.load
    source = load_source(
        resolved.input,
        source_format=resolved.source.source_format,
        columns=resolved.source.columns,
        higher_is_better=resolved.source.higher_is_better,
        aspects=resolved.binarize.aspects,
        weights=resolved.binarize.weights,
        revision=load.revision,
        split=load.split,
        streaming=load.streaming,
        with_critique=resolved.flag is not None,
    )
    steps = recipe_steps(resolved, source)
    streams = {name: schema for step in steps for name, schema in step.side_outputs.items()}
    sink = RecipeSink(output, resolved, SCHEMAS[resolved.binarize.format], streams)
    inputs = [resolved.input, resolved.review.decisions]
    if resolved.decontaminate is not None:
        from notus_data.decontamination.benchmarks import benchmark_paths

        inputs += benchmark_paths(resolved.decontaminate.benchmark_file)
    info = {"recipe": resolved.name, "input": resolved.input, "output": str(output)}
    info["source"] = describe_source(resolved, source)
    if getattr(source, "format", None) is not None:
        info["source"]["source_format"] = source.format.name
    pipeline = Pipeline(
        "run", source, steps, sink, inputs=input_paths(inputs), batch_size=load.batch_size, progress=progress,
        info=info,
    )  # fmt: skip
    return pipeline.run(engine, **engine_kwargs(engine_options, num_blocks)).report
