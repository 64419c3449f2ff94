"""Publish a Hub-ready folder (the output of ``notus-data run``) as a dataset repository on the Hugging Face Hub.

:func:`validate_folder` checks the folder first, offline: a README.md whose metadata parses with
huggingface_hub's card classes, ``configs`` whose ``data_files`` match readable parquet shards, row counts and
features that agree with ``dataset_info``, no leftover temporary files, and no copy of the token in any text file.
:func:`publish` then uploads it with huggingface_hub (``create_repo`` + ``upload_folder``; ``create_branch`` for a
``revision`` other than main).

The token comes from ``HF_TOKEN`` or the login helper (``hf auth login``), through ``huggingface_hub.get_token``;
it is never printed, logged, written or put in an exception: errors are rebuilt from the Hub's status and message,
with the token scrubbed, and raised without the original exception attached.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, OptionError
from notus_data.io.paths import OUTPUT_MARKER

#: Files in a run's folder that are never uploaded (temporary files of an interrupted run).
IGNORE_PATTERNS = [
    ".notus-tmp-*",
    "**/.notus-tmp-*",
    ".work/**",
    "**/.*-part-*.parquet",
    OUTPUT_MARKER,  # marks the folder as a notus-data output on this disk; nothing for the Hub
]
TEXT_SUFFIXES = (".md", ".yaml", ".yml", ".json", ".jsonl", ".txt", ".csv", ".cfg", ".ini", ".env", ".py")
MAX_SCANNED_BYTES = 50 << 20
LOGIN_HINT = "set HF_TOKEN or run `hf auth login`"


class PublishError(NotusDataError):
    """The folder cannot be published as it is, or the Hub refused the upload (never carries the token)."""


@dataclass
class PublishOptions:
    """Where and how the folder is uploaded. Every field is also a ``notus-data publish`` option."""

    private: bool = field(default=False, metadata={"help": "create the repository as private"})
    revision: str | None = field(
        default=None, metadata={"help": "branch to upload to (created from main if missing; default: main)"}
    )
    commit_message: str | None = field(
        default=None, metadata={"help": "commit message (default: 'Upload FOLDER with notus-data')"}
    )
    endpoint: str | None = field(
        default=None, metadata={"help": "Hub endpoint URL (default: HF_ENDPOINT or https://huggingface.co)"}
    )

    def __post_init__(self) -> None:
        if self.revision is not None and not self.revision.strip():
            raise OptionError("revision: an empty branch name; leave it out to upload to main")
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise OptionError(f"endpoint: {self.endpoint!r} is not an http(s) URL")


@dataclass
class FolderSummary:
    """What a valid folder holds: its splits (rows each), files and bytes."""

    folder: Path
    splits: dict[str, int]
    files: list[str]
    bytes: int


@dataclass
class PublishResult:
    repo_id: str
    repo_url: str
    commit_url: str
    revision: str
    summary: FolderSummary


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every copy of ``secret`` replaced by ``***``.

    >>> scrub("Bearer hf_abc rejected", "hf_abc")
    'Bearer *** rejected'
    """
    return text.replace(secret, "***") if secret else text


# ------------------------------------------------------------------------------------------ folder checks


def _card(folder: Path) -> Any:
    from huggingface_hub import DatasetCard

    readme = folder / "README.md"
    if not readme.is_file():
        raise PublishError(f"{folder}: no README.md; publish a folder written by `notus-data run`")
    try:
        return DatasetCard.load(readme)
    except Exception as exc:  # huggingface_hub raises ValueError / yaml errors for bad metadata
        raise PublishError(
            f"{readme}: the card's metadata does not parse ({type(exc).__name__}: {exc})"
        ) from None


def _matching(folder: Path, pattern: str) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sorted(p for p in files if fnmatch.fnmatchcase(p.relative_to(folder).as_posix(), pattern))


def validate_folder(folder: str | os.PathLike, *, token: str | None = None) -> FolderSummary:
    """Check that ``folder`` is a loadable, self-consistent dataset folder; raise :class:`PublishError` if not.

    With ``token``, also refuse a folder whose text files hold it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features
    from datasets.info import DatasetInfosDict

    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"{folder}: no such folder")
    leftovers = [p.name for p in folder.rglob(".notus-tmp-*")] + [p.name for p in folder.rglob(".work")]
    if leftovers:
        raise PublishError(
            f"{folder}: holds temporary files of an unfinished run ({leftovers[0]}); run it again"
        )
    card = _card(folder)
    data = card.data
    if not data.get("license"):
        raise PublishError(
            f"{folder}/README.md: no license in the card's metadata; add one (e.g. license: mit)"
        )
    configs = data.get("configs") or []
    if not configs:
        raise PublishError(f"{folder}/README.md: no 'configs' with data_files in the card's metadata")
    infos = DatasetInfosDict.from_dataset_card_data(data)
    splits: dict[str, int] = {}
    for config in configs:
        name = config.get("config_name", "default")
        info = infos.get(name)
        for entry in config.get("data_files") or []:
            split, pattern = entry.get("split"), entry.get("path")
            patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
            files = [p for pat in patterns for p in _matching(folder, pat)]
            if not files:
                raise PublishError(
                    f"{folder}: split {split!r}: no file matches {patterns} (from README.md configs)"
                )
            rows, schema = 0, None
            for path in files:
                try:
                    pf = pq.ParquetFile(path)
                except (pa.ArrowInvalid, OSError) as exc:
                    raise PublishError(f"{path}: not a readable parquet file ({exc})") from None
                rows += pf.metadata.num_rows
                if schema is None:
                    schema = pf.schema_arrow
                elif not pf.schema_arrow.equals(schema):
                    raise PublishError(f"{path}: its columns differ from the other files of split {split!r}")
            splits[split] = splits.get(split, 0) + rows
            if info is not None:
                if info.features is not None and Features.from_arrow_schema(schema) != info.features:
                    raise PublishError(
                        f"{folder}: split {split!r}: the parquet columns do not match dataset_info.features "
                        "in README.md; regenerate the folder with `notus-data run`"
                    )
                expected = (
                    info.splits.get(split).num_examples if info.splits and split in info.splits else None
                )
                if expected is not None and expected != rows:
                    raise PublishError(
                        f"{folder}: split {split!r} has {rows} rows but README.md says {expected}; "
                        "regenerate the folder with `notus-data run`"
                    )
    all_files = sorted(p for p in folder.rglob("*") if p.is_file())
    if token:
        for path in all_files:
            if path.suffix in TEXT_SUFFIXES and path.stat().st_size <= MAX_SCANNED_BYTES:
                if token in path.read_text(encoding="utf-8", errors="ignore"):
                    raise PublishError(
                        f"{path}: holds your Hugging Face token; remove it before publishing (and revoke it)"
                    )
    return FolderSummary(
        folder=folder,
        splits=splits,
        files=[p.relative_to(folder).as_posix() for p in all_files],
        bytes=sum(p.stat().st_size for p in all_files),
    )


# ------------------------------------------------------------------------------------------------ upload


def resolve_token(token: str | None = None) -> str:
    """The token to upload with: ``token``, else ``HF_TOKEN``, else the one saved by ``hf auth login``."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise PublishError(f"no Hugging Face token found: {LOGIN_HINT} (a token with write access)")
    return found


def _describe_failure(exc: BaseException, repo_id: str, endpoint: str, token: str) -> str:
    """One line that says what went wrong and the fix; built from the status and message, token scrubbed."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    server = getattr(exc, "server_message", None)
    if server and server not in message:
        message = f"{message.rstrip(':')}: {server}"
    message = scrub(" ".join(message.split()), token)[:300]
    if status == 401:
        return f"the Hub at {endpoint} refused the token (401): {LOGIN_HINT} with a valid token"
    if status == 403:
        return f"the token may not write to {repo_id} (403): use a token with write access to that namespace"
    if status == 404:
        return f"{repo_id} or its revision was not found at {endpoint} (404): {message}"
    if status is not None:
        return f"the Hub at {endpoint} answered {status} while publishing {repo_id}: {message}"
    name = type(exc).__name__
    if "Connect" in name or "Timeout" in name or "Network" in name:
        return f"cannot reach the Hub at {endpoint} ({name}); check the network or --endpoint"
    return f"publishing {repo_id} failed ({name}: {message})"


def publish(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | None = None,
    progress: bool = False,
    **options: Any,
) -> PublishResult:
    """Validate ``folder`` and upload it as the dataset repository ``repo_id`` (``owner/name``).

    ``options`` are the fields of :class:`PublishOptions` (``private``, ``revision``, ``commit_message``,
    ``endpoint``). ``token`` defaults to ``HF_TOKEN`` or the login helper's; it is never printed or raised.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    opts = PublishOptions(**options)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise OptionError(f"repo_id: {repo_id!r} is not owner/name")
    token = resolve_token(token)
    summary = validate_folder(folder, token=token)
    endpoint = (opts.endpoint or constants.ENDPOINT).rstrip("/")
    revision = opts.revision or "main"
    message = opts.commit_message or f"Upload {Path(folder).resolve().name} with notus-data"
    api = HfApi(endpoint=endpoint, token=token)
    were_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    failure: str | None = None
    try:
        repo_url = api.create_repo(
            repo_id, repo_type="dataset", private=True if opts.private else None, exist_ok=True
        )
        if revision != "main":
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            revision=revision,
            commit_message=message,
            ignore_patterns=list(IGNORE_PATTERNS),
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes one scrubbed line
        failure = _describe_failure(exc, repo_id, endpoint, token)
    finally:
        if not progress and not were_disabled:
            enable_progress_bars()
    if failure is not None:
        # Raised outside the except block: no original exception (which may quote headers) is attached.
        raise PublishError(failure)
    return PublishResult(
        repo_id=repo_id,
        repo_url=str(repo_url),
        commit_url=str(getattr(commit, "commit_url", commit)),
        revision=revision,
        summary=summary,
    )
