"""``flag``: the completions whose critique score looks wrong, with their reasons, for a human to review.

A pipeline of one step, :class:`~notus_data.steps.flag.FlagStep` with its flags as the output; the rules are
those of :mod:`notus_data.steps.flag`.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from notus_data.engines import EngineOptions
from notus_data.io.paths import DEFAULT_BATCH_SIZE, report_path
from notus_data.io.sources import input_paths, load_ultrafeedback
from notus_data.jobs.binarize import finish
from notus_data.jobs.common import check_load, check_path, engine_kwargs, sink_for
from notus_data.pipeline import Pipeline
from notus_data.report import Report
from notus_data.steps.flag import FLAGGED_SCHEMA, REASONS, FlagOptions, FlagStep


def flag(
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
    num_blocks: int | None = None,
    **options: Any,
) -> Report | tuple[Any, Report]:
    """Flag the completions of UltraFeedback-shaped ``input`` and write them to ``output``; return the report.

    ``output`` is .parquet, .jsonl or a folder (``save_to_disk``), written atomically; the report (prompts in,
    prompts with flags, flagged completions by reason and by source) goes beside it as ``OUTPUT.report.json``.
    With no ``output``: ``(flagged completions as a datasets.Dataset, report)``. ``options`` are the fields of
    :class:`FlagOptions`; ``engine="ray"`` runs the step on Ray with the same output.
    """
    check_load(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    if output is not None:
        check_path(output, "output")
    engine_options = EngineOptions(engine=engine, ray_address=ray_address)
    opts = FlagOptions(**options)
    source = load_ultrafeedback(
        input, revision=revision, split=split, streaming=streaming, with_critique=True
    )
    sink = sink_for(
        "flag",
        output,
        report=None if output is None else report_path(output),
        schemas={"main": FLAGGED_SCHEMA},
    )
    info = {**source.describe(), "options": asdict(opts), "reasons": {r: REASONS[r] for r in opts.rules}}
    if output is not None:
        info["output"] = str(output)
    pipeline = Pipeline(
        "flag", source, [FlagStep(opts, output=True)], sink, inputs=input_paths([input]), batch_size=batch_size,
        progress=progress, info=info,
    )  # fmt: skip
    return finish(pipeline.run(engine, **engine_kwargs(engine_options, num_blocks)), output)
