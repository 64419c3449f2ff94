"""``convert``: a pairs set in any format written in another (``trl``, ``kto``, ``openrlhf``, ``llama-factory``,
``h4``, ``cleaned``, ``notus``).

A pipeline of one step (:class:`~notus_data.steps.convert.ConvertStep`) over the ``pairs`` source
(:mod:`notus_data.sources.pairs`, read by :mod:`notus_data.io.pairs`): every input row is a pair written in the output format or counted with the
reason it is none.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from notus_data.engines import EngineOptions
from notus_data.io.pairs import load_pairs
from notus_data.io.paths import DEFAULT_BATCH_SIZE, output_kind, report_path
from notus_data.io.sources import input_paths
from notus_data.jobs.binarize import finish
from notus_data.jobs.common import check_load, check_path, engine_kwargs, sink_for, write_dataset_info
from notus_data.pipeline import Pipeline
from notus_data.report import Report
from notus_data.steps.convert import ConvertOptions, ConvertStep


def convert(
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
    """Read the pairs of ``input`` (any pairs format: ``notus`` / Argilla flat, ``cleaned``, ``h4``, ``trl``,
    ``openrlhf``, ``llama-factory``, TRL's flat ``prompt`` / ``chosen`` / ``rejected``) and write them to
    ``output`` in ``format`` (a field of :class:`~notus_data.steps.convert.ConvertOptions`).

    ``input``: a local .parquet / .jsonl / .json file, a folder, a Hub id or a table in memory. ``output``:
    .parquet, .jsonl or a folder, atomically, the report beside it (``OUTPUT.report.json``: rows in, pairs
    converted, rows out, every row that is no pair with its reason); a ``llama-factory`` output also gets its
    ``dataset_info.json`` entry. With no ``output``: ``(rows, report)``, the rows a ``datasets.Dataset``.

    >>> report = convert("pairs.parquet", "pairs.trl.parquet", format="trl")  # doctest: +SKIP
    """
    check_load(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    if output is not None:
        check_path(output, "output")
        output_kind(output)
    engine_options = EngineOptions(engine=engine, ray_address=ray_address)
    opts = ConvertOptions(**options)
    source = load_pairs(input, revision=revision, split=split, streaming=streaming)
    step = ConvertStep(opts)
    sink = sink_for(
        "convert", output, sides={}, report=None if output is None else report_path(output),
        schemas={"main": step.schema}, engine=engine_options,
    )  # fmt: skip
    info = {**source.describe(), "options": asdict(opts)}
    if output is not None:
        info["output"] = str(output)
    pipeline = Pipeline(
        "convert", source, [step], sink, inputs=input_paths([input]), batch_size=batch_size,
        progress=progress, info=info,
    )  # fmt: skip
    run = pipeline.run(engine, **engine_kwargs(engine_options, num_blocks))
    write_dataset_info(output, opts.format)
    return finish(run, output)
