"""notus-data: curate preference data for LLM alignment.

The steps are pure functions over ``pyarrow.Table`` batches; the job functions (``binarize``, ``compare``, ...)
read an input, run the steps batch by batch, write the output atomically and return a :class:`Report`.

>>> import notus_data
>>> notus_data.BinarizeOptions().strategy
'notus'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public names, imported on first use so that ``import notus_data`` stays quick. The job functions whose names
# are also module names (binarize, compare, decontaminate, flag, publish, train) are imported from their modules:
# ``from notus_data.binarize import binarize``.
_EXPORTS = {
    "NotusDataError": "notus_data.errors",
    "SchemaError": "notus_data.errors",
    "OptionError": "notus_data.errors",
    "load_ultrafeedback": "notus_data.io",
    "read_table": "notus_data.io",
    "write_table": "notus_data.io",
    "ScoreOptions": "notus_data.scoring",
    "score_table": "notus_data.scoring",
    "BinarizeOptions": "notus_data.binarize",
    "binarize_table": "notus_data.binarize",
    "CompareOptions": "notus_data.compare",
    "Report": "notus_data.report",
    "run": "notus_data.recipes",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'notus_data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
