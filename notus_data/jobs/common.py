"""What every job shares: the engine options, the sink for an output path (or memory), the result."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from notus_data.engines import EngineOptions
from notus_data.errors import OptionError, OutputError
from notus_data.io.atomic import atomic_path
from notus_data.io.sinks import FileSink, MemorySink, Sink
from notus_data.io.sources import LoadOptions


def engine_kwargs(engine: EngineOptions, num_blocks: int | None = None) -> dict[str, Any]:
    """The keywords of :meth:`Pipeline.run` for ``engine``."""
    if engine.engine != "ray":
        return {}
    return {"ray_address": engine.ray_address, "ray_write": engine.ray_write, "num_blocks": num_blocks}


def sink_for(
    command: str,
    output: str | os.PathLike | None,
    *,
    sides: dict[str, str | os.PathLike] | None = None,
    report: str | os.PathLike | None = None,
    schemas: dict[str, pa.Schema | None] | None = None,
    engine: EngineOptions | None = None,
    write_main: bool = True,
) -> Sink:
    """Files beside ``output`` (atomic), or every stream in memory when ``output`` is None."""
    if output is None:
        return MemorySink(schemas)
    check_path(output, "output")
    parallel = engine is not None and engine.engine == "ray" and engine.ray_write == "parallel"
    return FileSink(
        command,
        main=output if write_main else None,
        sides=sides,
        report=report,
        schemas=schemas,
        parallel=parallel,
    )


def check_path(value: Any, name: str) -> str:
    """``value`` as a path string, or an :class:`OptionError` naming the keyword when it is no path."""
    if not isinstance(value, (str, os.PathLike)):
        raise OptionError(
            f"{name}: a {type(value).__module__}.{type(value).__name__} is not a path; give a file or folder path"
            + (" (or leave it out to get the result in memory)" if name == "output" else "")
        )
    return os.fspath(value)


def as_dataset(table: pa.Table) -> Any:
    """An Arrow table as a ``datasets.Dataset`` (in memory, no copy)."""
    import datasets

    return datasets.Dataset(table)


def check_load(**options: Any) -> LoadOptions:
    return LoadOptions(**options)


def write_dataset_info(output: str | os.PathLike | None, fmt: str) -> Path | None:
    """For a ``llama-factory`` output: its entry in ``dataset_info.json`` beside it (LLaMA-Factory's
    ``dataset_dir``), named after the output's file name without its extension; other entries of an existing
    ``dataset_info.json`` are kept. Returns the path written (None for other formats or no output)."""
    if output is None or fmt != "llama-factory":
        return None
    from notus_data.formats import dataset_info

    target = Path(output)
    path = target.parent / "dataset_info.json"
    entries: dict[str, Any] = {}
    if path.is_file():
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise OutputError(
                f"{path}: not valid JSON ({exc}); fix or move it, then run again (the pairs were written)"
            ) from None
    name = target.name.split(".")[0] if target.suffix else target.name
    entries.update(dataset_info(target.name, name))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
