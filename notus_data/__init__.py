"""notus-data: curate preference data for LLM alignment.

Every job is a pipeline of steps over Arrow batches (:mod:`notus_data.pipeline`, :mod:`notus_data.steps`), run
by an engine (:mod:`notus_data.engines`: this process, or a Ray cluster). The jobs take a Hub id, a local file or
folder, or a data set in memory, and write files (atomically) or give the result back in memory:

>>> import notus_data
>>> notus_data.BinarizeOptions().strategy
'notus'
>>> pairs, report = notus_data.binarize("data/ultrafeedback-sample.parquet")  # doctest: +SKIP

Names are imported on first use, so ``import notus_data`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # jobs
    "binarize": "notus_data.jobs.binarize",
    "flag": "notus_data.jobs.flag",
    "decontaminate": "notus_data.jobs.decontaminate",
    "convert": "notus_data.jobs.convert",
    "compare": "notus_data.jobs.compare",
    "explain": "notus_data.jobs.explain",
    "publish": "notus_data.jobs.publish",
    "run": "notus_data.recipes.runner",
    # building blocks
    "Pipeline": "notus_data.pipeline",
    "Step": "notus_data.steps.base",
    "StepResult": "notus_data.steps.base",
    "load_ultrafeedback": "notus_data.io.sources",
    "read_table": "notus_data.io.tables",
    "write_table": "notus_data.io.atomic",
    "ScoreOptions": "notus_data.steps.score",
    "score_table": "notus_data.steps.score",
    "BinarizeOptions": "notus_data.steps.binarize",
    "binarize_table": "notus_data.steps.binarize",
    "FlagOptions": "notus_data.steps.flag",
    "DecontaminateOptions": "notus_data.decontamination.options",
    "CompareOptions": "notus_data.steps.compare",
    "Report": "notus_data.report",
    "NotusDataError": "notus_data.errors",
    "SchemaError": "notus_data.errors",
    "OptionError": "notus_data.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'notus_data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
