"""Engines: where a pipeline's batches are read and processed. ``local`` (this process, the default) or ``ray``
(a Ray cluster, optional extra). An engine runs ANY pipeline and never knows a step by name: it reads batches
(or has workers read them), hands each to the pipeline's :meth:`~notus_data.pipeline.Work.process`, and gives the
results back in input order; so the output and the report counts are the same on every engine.

To add an engine: a class with ``run(pipeline) -> Run`` that opens ``pipeline.session()``, feeds it every
:class:`~notus_data.pipeline.BatchResult` in input order, and returns the run; register it in :data:`ENGINES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from notus_data.errors import OptionError

#: engine name -> "module:class"
ENGINES = {"local": "notus_data.engines.local:LocalEngine", "ray": "notus_data.engines.ray.engine:RayEngine"}
RAY_WRITES = ("driver", "parallel")


@dataclass
class EngineOptions:
    """Which engine runs the steps. Every field is also a CLI option of the same name."""

    engine: str = field(default="local", metadata={"help": "where the steps run", "choices": tuple(ENGINES)})
    ray_address: str | None = field(
        default=None,
        metadata={"help": "Ray cluster address for --engine ray (default: RAY_ADDRESS, or a local Ray)"},
    )

    ray_write: str = field(
        default="driver",
        metadata={
            "help": "--engine ray: 'driver' writes the same bytes as local; 'parallel' has each worker write its "
            "own parquet file into an OUTPUT folder (for clusters)",
            "choices": RAY_WRITES,
        },
    )

    def __post_init__(self) -> None:
        if self.ray_write not in RAY_WRITES:
            raise OptionError(
                f"ray_write: {self.ray_write!r} is not a write mode; choose one of {', '.join(RAY_WRITES)}"
            )
        if self.engine not in ENGINES:
            raise OptionError(f"engine: {self.engine!r} is not an engine; choose one of {', '.join(ENGINES)}")
        if self.ray_address is not None and self.engine != "ray":
            raise OptionError("ray_address: only used with engine='ray'; add --engine ray")
        if self.ray_write != "driver" and self.engine != "ray":
            raise OptionError("ray_write: only used with engine='ray'; add --engine ray")


def get_engine(name: str = "local", **options: Any) -> Any:
    """An engine by name, with its own options (``ray_address``, ``num_blocks``, ... for ``ray``)."""
    if name not in ENGINES:
        raise OptionError(f"engine: {name!r} is not an engine; choose one of {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)
