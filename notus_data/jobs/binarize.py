"""``binarize``: UltraFeedback-shaped data to chosen/rejected pairs, as a pipeline of steps.

load -> [review decisions ->] [decontaminate ->] score -> binarize -> the pairs (a file, a folder, or a
``datasets.Dataset`` in memory), with the report beside them. The pairing rules are those of
:mod:`notus_data.steps.binarize`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from notus_data.engines import EngineOptions
from notus_data.errors import OptionError
from notus_data.io.paths import DEFAULT_BATCH_SIZE, report_path, sidecar_path
from notus_data.io.rated import load_source
from notus_data.io.sources import input_paths
from notus_data.jobs.common import (
    as_dataset,
    check_load,
    check_path,
    engine_kwargs,
    sink_for,
    write_dataset_info,
)
from notus_data.pipeline import Pipeline
from notus_data.report import Report
from notus_data.sources import SourceOptions
from notus_data.steps.base import Step
from notus_data.steps.binarize import BinarizeOptions, BinarizeStep
from notus_data.steps.decisions import CHANGES_SCHEMA, DecisionsStep
from notus_data.steps.score import ScoreStep


@dataclass
class CurationOptions:
    """Curation steps that ``binarize`` can run before pairing (the recipes run the same steps)."""

    decisions: str | None = field(
        default=None,
        metadata={"help": "review decisions file (from notus-data review pull) applied before scoring"},
    )
    decontaminate: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "benchmarks whose prompts are removed before pairing, comma-separated (truthfulqa)"
        },
    )
    benchmark_file: tuple[str, ...] = field(
        default=(),
        metadata={"help": "local copy of the benchmark's questions (turns --decontaminate truthfulqa on)"},
    )

    def __post_init__(self) -> None:
        if self.decisions is not None:
            self.decisions = check_path(self.decisions, "decisions")
        for name in ("decontaminate", "benchmark_file"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            setattr(self, name, tuple(value or ()))

    def decontaminate_options(self) -> Any:
        """The decontamination step's options, or None when the step is off."""
        if not self.decontaminate and not self.benchmark_file:
            return None
        from notus_data.decontamination.options import DecontaminateOptions

        if self.decontaminate:
            return DecontaminateOptions(benchmark=self.decontaminate, benchmark_file=self.benchmark_file)
        return DecontaminateOptions(benchmark_file=self.benchmark_file)

    def inputs(self) -> list[str]:
        """The local files these steps read (no output may be one of them)."""
        from notus_data.decontamination.benchmarks import benchmark_paths

        return [*([self.decisions] if self.decisions else []), *benchmark_paths(self.benchmark_file)]


def binarize_steps(options: BinarizeOptions, curation: CurationOptions) -> list[Step]:
    """[decisions ->] [decontaminate ->] score -> binarize."""
    steps: list[Step] = []
    if curation.decisions is not None:
        steps.append(DecisionsStep(curation.decisions, name="decisions"))
    decontaminate = curation.decontaminate_options()
    if decontaminate is not None:
        from notus_data.steps.decontaminate import DecontaminateStep

        steps.append(DecontaminateStep(decontaminate))
    steps += [ScoreStep(options.score_options()), BinarizeStep(options)]
    return steps


def binarize(
    input: Any,
    output: str | os.PathLike | None = None,
    *,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    ray_write: str = "driver",
    num_blocks: int | None = None,
    decisions: str | os.PathLike | None = None,
    decontaminate: tuple[str, ...] | str = (),
    benchmark_file: tuple[str, ...] | str = (),
    source_format: str | None = None,
    columns: str | None = None,
    higher_is_better: bool = True,
    **options: Any,
) -> Any:
    """Load UltraFeedback-shaped data, score it, binarize it and write the pairs; return the run's report.

    ``input`` is a Hub id, a local file or folder, or a ``datasets.Dataset`` / ``pyarrow.Table`` /
    ``pandas.DataFrame`` in memory. The pairs go to ``output`` (.parquet, .jsonl, or a folder for
    ``save_to_disk``), atomically, and the report beside it as ``OUTPUT.report.json``; with no ``output``, the
    pairs come back as a ``datasets.Dataset``: ``pairs, report = binarize(ds)``.

    ``options`` are the fields of :class:`BinarizeOptions`; ``engine``, ``ray_address``, ``ray_write`` those of
    :class:`~notus_data.engines.EngineOptions`. Before pairing, optionally: review ``decisions`` are applied
    (every change listed in ``OUTPUT.changes.jsonl``) and the prompts of the benchmarks in ``decontaminate`` are
    removed (counted as ``decontaminated``; the evidence goes to ``OUTPUT.decontamination.parquet``).

    >>> pairs, report = binarize("data/ultrafeedback-sample.parquet", strategy="notus")  # doctest: +SKIP
    """
    check_load(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    if output is not None:
        check_path(output, "output")
    engine_options = EngineOptions(engine=engine, ray_address=ray_address, ray_write=ray_write)
    curation = CurationOptions(
        decisions=decisions, decontaminate=decontaminate, benchmark_file=benchmark_file
    )
    if options.get("score") == "human" and curation.decisions is None:
        raise OptionError(
            "score: human ranks by the reviewers' ranking, which comes with review decisions: pass --decisions "
            "(from notus-data review pull of a prompt-level review), or pick another score source"
        )
    sources = SourceOptions(source_format=source_format, columns=columns, higher_is_better=higher_is_better)
    source, opts = open_input(input, sources, options, revision=revision, split=split, streaming=streaming)
    sides: dict[str, Any] = {}
    schemas: dict[str, Any] = {"main": BinarizeStep(opts).schema}
    if output is not None:
        if curation.decontaminate_options() is not None:
            from notus_data.decontamination.find import EVIDENCE_SCHEMA
            from notus_data.jobs.decontaminate import evidence_path

            sides["evidence"], schemas["evidence"] = evidence_path(output), EVIDENCE_SCHEMA
        if curation.decisions is not None:
            sides["changes"], schemas["changes"] = sidecar_path(output, "changes.jsonl"), CHANGES_SCHEMA
    sink = sink_for(
        "binarize", output, sides=sides, report=None if output is None else report_path(output),
        schemas=schemas, engine=engine_options,
    )  # fmt: skip
    info = {**source.describe(), "options": asdict(opts), "curation": asdict(curation)}
    if getattr(source, "format", None) is not None:
        info["source"] = asdict(sources)
    if output is not None:
        info["output"] = str(output)
    if "changes" in sides:
        info["changes"] = str(sides["changes"])
    pipeline = Pipeline(
        "binarize", source, binarize_steps(opts, curation), sink,
        inputs=input_paths([input, *curation.inputs()]), batch_size=batch_size, progress=progress, info=info,
    )  # fmt: skip
    run = pipeline.run(engine, **engine_kwargs(engine_options, num_blocks))
    write_dataset_info(output, opts.format)
    return finish(run, output)


def open_input(
    input: Any, sources: SourceOptions, options: dict[str, Any], **load: Any
) -> tuple[Any, BinarizeOptions]:
    """The input's source (UltraFeedback, or another source format) and the binarize options that fit it: the
    other formats score by ``source-score``, and HelpSteer2 takes ``aspects`` and ``weights`` for its score."""
    options = dict(options)
    probe = BinarizeOptions(**{**options, "score": "source-score"}) if options.get("score") is None else None
    source = load_source(
        input, source_format=sources.source_format, columns=sources.columns,
        higher_is_better=sources.higher_is_better,
        aspects=(probe or BinarizeOptions(**options)).aspects, weights=(probe or BinarizeOptions(**options)).weights,
        **load,
    )  # fmt: skip
    if getattr(source, "format", None) is not None and options.get("score") is None:
        options["score"] = "source-score"
    return source, BinarizeOptions(**options)


def finish(run: Any, output: str | os.PathLike | None) -> Report | tuple[Any, Report]:
    """The report, and the main table as a ``datasets.Dataset`` when there was no output path."""
    if output is None:
        return as_dataset(run.result["main"]), run.report
    return run.report
