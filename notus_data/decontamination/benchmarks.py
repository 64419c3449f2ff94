"""Load benchmark questions: TruthfulQA and any other benchmark, from the Hub or from a local file.

A benchmark is named in ``benchmark`` (``DecontaminateOptions``):

* a known name (:data:`KNOWN_BENCHMARKS`): ``truthfulqa`` = ``truthfulqa/truthful_qa``, configs ``generation``
  and ``multiple_choice``, split ``validation``, column ``question`` (both configs hold the same 817 questions);
* a Hub id, optionally with a config: ``owner/name`` or ``owner/name:config`` (``benchmark_split``, default
  ``test``; ``benchmark_column``, default ``question``);
* or any name, when a file gives its questions.

``benchmark_file`` gives questions from local files (.jsonl / .json / .csv / .parquet, or a parquet folder) with a
question column (``benchmark_column``, default ``question``, else the file's only text column). ``NAME=PATH``
gives the questions of benchmark NAME (a new one, or an offline copy of a named one); a bare ``PATH`` is the
offline copy of the one benchmark named in ``benchmark`` (or, when several are named, its own benchmark called
after the file).

The index built from the questions can be cached in a folder (``index_cache``), in a file named by the hash of
its content; a Hub benchmark that cannot be loaded (offline) is then taken from the cache of an earlier run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontamination.index import BenchmarkQuestion, DecontaminationIndex, content_hash, dedupe
from notus_data.errors import NotusDataError, SchemaError


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a known benchmark's questions live, and the UltraFeedback sources taken from it."""

    name: str
    hub_id: str
    configs: tuple[str | None, ...]
    split: str
    column: str
    sources: tuple[str, ...] = ()


KNOWN_BENCHMARKS: dict[str, BenchmarkSpec] = {
    "truthfulqa": BenchmarkSpec(
        name="truthfulqa",
        hub_id="truthfulqa/truthful_qa",
        configs=("generation", "multiple_choice"),
        split="validation",
        column="question",
        sources=("truthful_qa",),
    ),
}
DEFAULT_COLUMN = "question"
DEFAULT_HUB_SPLIT = "test"
FILE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".parquet")


@dataclass(frozen=True)
class BenchmarkSource:
    """One benchmark to load: from a file (``path``) or from the Hub (``hub_id``, ``configs``, ``split``)."""

    name: str
    column: str
    path: str | None = None
    hub_id: str | None = None
    configs: tuple[str | None, ...] = (None,)
    split: str = DEFAULT_HUB_SPLIT

    def describe(self) -> dict[str, object]:
        if self.path is not None:
            return {"name": self.name, "file": self.path, "column": self.column}
        return {
            "name": self.name,
            "hub_id": self.hub_id,
            "configs": [c for c in self.configs if c],
            "split": self.split,
            "column": self.column,
        }


def split_benchmark_entry(entry: str) -> tuple[str | None, str]:
    """``NAME=PATH`` -> (NAME, PATH); a bare path -> (None, PATH)."""
    if "=" in entry:
        name, path = entry.split("=", 1)
        if name and os.sep not in name and not Path(entry).exists():
            return name.strip(), path.strip()
    return None, entry


def resolve_benchmarks(
    benchmark: Sequence[str],
    benchmark_file: Sequence[str] = (),
    *,
    column: str | None = None,
    split: str | None = None,
) -> list[BenchmarkSource]:
    """Turn the ``benchmark`` names and ``benchmark_file`` entries into sources to load (see the module
    docstring); raises :class:`NotusDataError` for a name that is neither known, nor a Hub id, nor given a file."""
    files: dict[str, str] = {}
    bare = []
    for entry in benchmark_file:
        name, path = split_benchmark_entry(entry)
        if name is None:
            bare.append(path)
        else:
            files[name] = path
    if bare:
        if len(benchmark) == 1 and benchmark[0] not in files and len(bare) == 1:
            files[benchmark[0]] = bare[0]
        else:
            for path in bare:
                files.setdefault(Path(path).name.split(".")[0], path)
    sources: list[BenchmarkSource] = []
    for name in list(benchmark) + [n for n in files if n not in benchmark]:
        spec = KNOWN_BENCHMARKS.get(name)
        col = column or (spec.column if spec else DEFAULT_COLUMN)
        if name in files:
            sources.append(BenchmarkSource(name=name, column=col, path=files[name]))
        elif spec is not None:
            sources.append(
                BenchmarkSource(
                    name, col, hub_id=spec.hub_id, configs=spec.configs, split=split or spec.split
                )
            )
        elif "/" in name:
            hub_id, _, config = name.partition(":")
            sources.append(
                BenchmarkSource(
                    name, col, hub_id=hub_id, configs=(config or None,), split=split or DEFAULT_HUB_SPLIT
                )
            )
        else:
            known = ", ".join(KNOWN_BENCHMARKS)
            raise NotusDataError(
                f"benchmark: {name!r} is not a known benchmark ({known}) nor a Hub id (owner/name[:config]); "
                f"give its questions with --benchmark-file {name}=PATH"
            )
    if not sources:
        raise NotusDataError("benchmark: no benchmark given; name one (--benchmark truthfulqa) or a file")
    return sources


def benchmark_paths(benchmark_file: Sequence[str]) -> list[str]:
    """The local paths of ``--benchmark-file`` entries (``NAME=PATH`` or ``PATH``): inputs a run must not
    overwrite."""
    return [split_benchmark_entry(entry)[1] for entry in benchmark_file]


def benchmark_sources_filter(names: Sequence[str]) -> dict[str, str]:
    """UltraFeedback ``source`` value -> benchmark name, for the known benchmarks among ``names``."""
    return {
        source: name
        for name in names
        if name in KNOWN_BENCHMARKS
        for source in KNOWN_BENCHMARKS[name].sources
    }


# ------------------------------------------------------------------------------------------------ loading


def _read_file(path: Path) -> pa.Table:
    if not path.exists():
        raise NotusDataError(f"benchmark_file: {path}: no such file or folder")
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        try:
            return pcsv.read_csv(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SchemaError(
                f"benchmark_file: {path}: not a readable CSV file ({str(exc).splitlines()[0]})"
            ) from exc
    if path.is_file() and path.suffix not in FILE_SUFFIXES:
        raise NotusDataError(
            f"benchmark_file: {path}: unknown file type {path.suffix!r}; use .jsonl, .json, .csv or .parquet"
        )
    from notus_data.io import read_table

    return read_table(path)


def _question_column(table: pa.Table, column: str, origin: str, explicit: bool) -> pa.Array:
    names = table.schema.names
    if column not in names:
        text = [
            f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        if not explicit and len(text) == 1:
            column = text[0]
        else:
            raise SchemaError(
                f"{origin}: no column {column!r} (columns: {names}); name the question column with "
                "--benchmark-column NAME"
            )
    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise SchemaError(
            f"{origin}: column {column!r} holds {values.type}, not text; name the question column"
        )
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _questions(values: pa.Array, name: str) -> list[BenchmarkQuestion]:
    values = pc.drop_null(values)
    return [BenchmarkQuestion(name, q) for q in values.to_pylist() if q and q.strip()]


def load_file(source: BenchmarkSource, *, explicit_column: bool = False) -> list[BenchmarkQuestion]:
    """Questions of a local file (.jsonl, .json, .csv, .parquet or a parquet folder)."""
    path = Path(source.path or "")
    table = _read_file(path)
    questions = _questions(_question_column(table, source.column, str(path), explicit_column), source.name)
    if not questions:
        raise NotusDataError(f"benchmark_file: {path}: column {source.column!r} holds no question")
    return questions


def load_hub(source: BenchmarkSource) -> list[BenchmarkQuestion]:
    """Questions of a Hub dataset (every config listed, one split), read with ``datasets.load_dataset``."""
    import datasets

    questions: list[BenchmarkQuestion] = []
    for config in source.configs:
        try:
            ds = datasets.load_dataset(source.hub_id, config, split=source.split)
        except Exception as exc:  # offline, not found, gated: one clear line
            where = f"{source.hub_id}" + (f" (config {config})" if config else "") + f", split {source.split}"
            raise NotusDataError(
                f"benchmark {source.name!r}: could not load {where} from the Hub ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else 'no detail'}); offline, give a local "
                f"copy with --benchmark-file {source.name}=PATH (e.g. a JSON lines file with a 'question' field)"
            ) from exc
        table = ds.with_format("arrow")[:]
        questions += _questions(
            _question_column(table, source.column, source.hub_id or "", True), source.name
        )
    return questions


def _spec_key(source: BenchmarkSource) -> str:
    return hashlib.sha256(json.dumps(source.describe(), sort_keys=True).encode()).hexdigest()[:16]


def load_questions(
    sources: Sequence[BenchmarkSource],
    *,
    cache: str | os.PathLike | None = None,
    explicit_column: bool = False,
) -> tuple[list[BenchmarkQuestion], list[dict[str, object]]]:
    """Questions of every source, and a description of where each came from (for the report)."""
    questions: list[BenchmarkQuestion] = []
    described = []
    for source in sources:
        info = source.describe()
        if source.path is not None:
            got = load_file(source, explicit_column=explicit_column)
        else:
            saved = Path(cache) / f"hub-{_spec_key(source)}.json" if cache else None
            try:
                got = load_hub(source)
            except NotusDataError:
                if saved is None or not saved.exists():
                    raise
                got = [
                    BenchmarkQuestion(source.name, q)
                    for q in json.loads(saved.read_text("utf-8"))["questions"]
                ]
                info["from_cache"] = str(saved)
            else:
                if saved is not None:
                    _write_json(saved, {"source": source.describe(), "questions": [q.question for q in got]})
        info["questions"] = len(got)
        described.append(info)
        questions += got
    return questions, described


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def build_index(
    questions: Sequence[BenchmarkQuestion], *, cache: str | os.PathLike | None = None
) -> DecontaminationIndex:
    """Index ``questions``; with ``cache`` (a folder), reuse the index saved there under its content hash, or
    save it there."""
    if cache is None:
        return DecontaminationIndex.build(questions)
    names, texts = dedupe(questions)
    if not texts:
        raise NotusDataError("benchmark: the benchmarks hold no question")
    path = Path(cache) / f"index-{content_hash(names, texts)[:32]}.npz"
    if path.exists():
        try:
            return DecontaminationIndex.load(path)
        except (ValueError, KeyError, OSError):
            pass  # a damaged or old cache file is rebuilt below
    index = DecontaminationIndex(names, texts)
    index.save(path)
    return index
