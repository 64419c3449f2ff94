"""Paths: what kind of output a path is, the files beside an output, and the rules that keep a run from
destroying data it did not make (:func:`guard_outputs`)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from notus_data.errors import NotusDataError

DEFAULT_BATCH_SIZE = 4096
ROW_GROUP_SIZE = 8192
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


def is_local(input: str | os.PathLike) -> bool:
    return Path(input).exists()


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` with no path-like parts and no data-file extension."""
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not name.endswith((".parquet", *JSON_SUFFIXES))


def looks_like_path(name: str) -> bool:
    """Whether a name that is not a local file is still meant as one: it starts like a path (``./``, ``/``,
    ``~``), has more than one slash, or its first part is a local folder (``data/missing``)."""
    if name.startswith((".", "/", "~", os.sep)) or name.count("/") > 1 or "\\" in name:
        return True
    first = name.split("/", 1)[0]
    return "/" in name and Path(first).is_dir()


_HUB_STATE: dict[str, str | None] = {}


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hugging Face Hub cannot be reached, or None when it can (or when ``HF_HUB_OFFLINE`` is set, so
    that ``datasets`` reads its cache). Checked once per process with a short connection attempt, so an offline
    machine gets one clear error in seconds instead of a minute of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    if endpoint in _HUB_STATE:
        return _HUB_STATE[endpoint]
    import socket
    import threading
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}".strip())

    thread = threading.Thread(target=attempt, daemon=True)  # name lookups have no timeout of their own
    thread.start()
    thread.join(timeout + 0.5)
    reason = outcome[0] if outcome else f"no answer from {host}:{port} within {timeout:g} s"
    _HUB_STATE[endpoint] = None if reason is None else f"{endpoint}: {reason}"
    return _HUB_STATE[endpoint]


def output_kind(path: str | os.PathLike) -> str:
    """ "parquet", "jsonl" or "folder" (a ``save_to_disk`` folder), from the output path's extension."""
    suffix = Path(path).suffix
    if suffix == ".parquet":
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    if suffix:
        raise NotusDataError(
            f"{path}: unknown output type '{suffix}'; use .parquet, .jsonl, or no extension for a folder"
        )
    return "folder"


def sidecar_path(output: str | os.PathLike, name: str) -> Path:
    """A file beside ``output``: ``out/pairs.parquet`` -> ``out/pairs.<name>``."""
    out = Path(output)
    if not out.name:  # "." or "/": the folder's own name
        out = Path(os.path.abspath(out))
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.{name}")


def report_path(output: str | os.PathLike) -> Path:
    """Where a run's JSON report sits: beside the output, ``OUTPUT.report.json``."""
    return sidecar_path(output, "report.json")


# --------------------------------------------------------------------------------------- output safety

#: The file that marks a folder as written by notus-data (and by which command): only such a folder, or an
#: empty one, is ever replaced by a later output.
OUTPUT_MARKER = ".notus-data-output.json"


def _real(path: str | os.PathLike) -> Path:
    """The absolute path with every symlink and ``..`` resolved (the path need not exist)."""
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def write_marker(folder: str | os.PathLike, command: str) -> None:
    """Mark ``folder`` as an output of ``command`` (see :data:`OUTPUT_MARKER`)."""
    text = json.dumps({"written_by": "notus-data", "command": command}, sort_keys=True) + "\n"
    (Path(folder) / OUTPUT_MARKER).write_text(text, encoding="utf-8")


def folder_owner(folder: str | os.PathLike) -> str | None:
    """The command that wrote ``folder`` ("" for an empty folder), or None when notus-data did not write it.

    A folder written by `notus-data run` before the marker existed is recognized by its resolved recipe and
    report.
    """
    folder = Path(folder)
    marker = folder / OUTPUT_MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and data.get("written_by") == "notus-data":
            return str(data.get("command") or "")
        return None
    if not any(folder.iterdir()):
        return ""
    recipe = folder / "recipe.yaml"
    if recipe.is_file() and (folder / "report.json").is_file():
        with open(recipe, encoding="utf-8", errors="replace") as fh:
            if fh.readline().startswith("# notus-data recipe (resolved)"):
                return "run"
    return None


def check_not_inputs(
    outputs: Sequence[str | os.PathLike], inputs: Sequence[str | os.PathLike | None]
) -> None:
    """Refuse an output path that resolves (symlinks, ``..``, relative paths) to one of the local ``inputs``,
    to a folder that holds one, or to a place inside an input folder (Hub ids are not checked)."""
    from notus_data.errors import OptionError

    local_inputs = [(str(i), _real(i)) for i in inputs if i is not None and is_local(i)]
    for output in outputs:
        out = _real(output)
        for given, inp in local_inputs:
            if out == inp:
                raise OptionError(
                    f"output: {output} is the input {given}; writing it would destroy the input. Give another "
                    "output path (nothing was written)"
                )
            if out in inp.parents:
                raise OptionError(
                    f"output: {output} is a folder that holds the input {given}; writing it would delete the "
                    "input. Give another output path (nothing was written)"
                )
            if inp.is_dir() and inp in out.parents:
                raise OptionError(
                    f"output: {output} is inside the input folder {given}; the output would be mixed into the "
                    "input. Give a path outside it (nothing was written)"
                )


def guard_outputs(
    command: str,
    outputs: Sequence[str | os.PathLike],
    inputs: Sequence[str | os.PathLike | None] = (),
) -> None:
    """Refuse, before any work, an output path that would destroy data the run did not make.

    Every path a run writes (its output and the files beside it) must pass :func:`check_not_inputs`; and an
    output that exists as a folder must be empty or an earlier output of the same ``command`` (it carries
    :data:`OUTPUT_MARKER`). Raises :class:`OptionError` naming the output, the input and the fix.
    """
    from notus_data.errors import OptionError

    check_not_inputs(outputs, inputs)
    for output in outputs:
        out = _real(output)
        if out.is_dir():
            owner = folder_owner(out)
            if owner is None or (owner and owner != command):
                what = "an output of `notus-data " + owner + "`" if owner else "not written by notus-data"
                raise OptionError(
                    f"output: {output} is an existing folder {what}; `notus-data {command}` replaces only "
                    "an empty folder or its own earlier output. Give a new path, or move that folder away "
                    "yourself (nothing was written)"
                )
