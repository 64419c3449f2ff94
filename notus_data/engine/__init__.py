"""Where the steps run: in this process (``local``, the default) or on a Ray cluster (``ray``, optional extra).

The steps are pure ``pyarrow.Table -> pyarrow.Table`` functions, so an engine only decides how batches are read,
fanned out and written; the pairs and the report counts are the same on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notus_data.errors import OptionError

ENGINES = ("local", "ray")


@dataclass
class EngineOptions:
    """Which engine runs the steps. Every field is also a CLI option of the same name."""

    engine: str = field(default="local", metadata={"help": "where the steps run", "choices": ENGINES})
    ray_address: str | None = field(
        default=None,
        metadata={"help": "Ray cluster address for --engine ray (default: RAY_ADDRESS, or a local Ray)"},
    )

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise OptionError(f"engine: {self.engine!r} is not an engine; choose one of {', '.join(ENGINES)}")
        if self.ray_address is not None and self.engine != "ray":
            raise OptionError("ray_address: only used with engine='ray'; add --engine ray")
