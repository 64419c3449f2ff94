"""Where the steps run: in this process (``local``, the default) or on a Ray cluster (``ray``, optional extra).

The steps are pure ``pyarrow.Table -> pyarrow.Table`` functions, so an engine only decides how batches are read,
fanned out and written; the pairs and the report counts are the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notus_data.errors import OptionError

ENGINES = ("local", "ray")
RAY_WRITES = ("driver", "parallel")


@dataclass
class EngineOptions:
    """Which engine runs the steps. Every field is also a CLI option of the same name."""

    engine: str = field(default="local", metadata={"help": "where the steps run", "choices": ENGINES})
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
