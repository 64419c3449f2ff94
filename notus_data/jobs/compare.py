"""``compare``: binarize an input two ways and count how often the chosen response differs.

The Notus card says that binarizing on the mean rating instead of the critique's overall_score changed the chosen
response in about 50% of prompts; :func:`compare` measures it on any input, overall and by source (a pipeline of
one step, :class:`~notus_data.steps.compare.CompareStep`, that writes nothing but its counts).
"""

from __future__ import annotations

import json
import os
from typing import Any

from notus_data.engines import EngineOptions
from notus_data.io.atomic import atomic_path
from notus_data.io.paths import DEFAULT_BATCH_SIZE, guard_outputs
from notus_data.io.sources import input_paths, load_ultrafeedback
from notus_data.jobs.common import check_load, check_path, engine_kwargs
from notus_data.pipeline import Pipeline
from notus_data.steps.compare import CompareOptions, CompareStep, Comparison


def compare(
    input: Any,
    *,
    output: str | os.PathLike | None = None,
    revision: str | None = None,
    split: str = "train",
    streaming: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    **options: Any,
) -> Comparison:
    """Binarize ``input`` two ways (``a`` and ``b``, see :class:`CompareOptions`) and count where the chosen differs.

    Counts are over the prompts that both binarizations pair; ``output`` (optional) receives them as JSON.
    """
    check_load(revision=revision, split=split, streaming=streaming, batch_size=batch_size)
    if output is not None:
        check_path(output, "output")
    engine_options = EngineOptions(engine=engine, ray_address=ray_address)
    opts = CompareOptions(**options)
    if output is not None:
        guard_outputs("compare", [output], input_paths([input]))
    step = CompareStep.from_options(opts)
    source = load_ultrafeedback(input, revision=revision, split=split, streaming=streaming)
    pipeline = Pipeline("compare", source, [step], inputs=input_paths([input]), batch_size=batch_size,
                        progress=progress)  # fmt: skip
    run = pipeline.run(engine, **engine_kwargs(engine_options))
    result = run.stats.get("comparison") or Comparison(*step.labels)
    if output is not None:
        with atomic_path(output) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result
