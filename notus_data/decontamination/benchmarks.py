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

from notus_data.decontamination.catalog import KNOWN_BENCHMARKS, PRESETS, expand_presets
from notus_data.decontamination.index import BenchmarkQuestion, DecontaminationIndex, content_hash, dedupe
from notus_data.errors import NotusDataError, SchemaError

DEFAULT_COLUMN = "question"
DEFAULT_HUB_SPLIT = "test"
FILE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".parquet")


BUNDLED = Path(__file__).resolve().parent / "data"
"""The benchmark copies shipped with the package (see :mod:`~notus_data.decontamination.catalog`)."""


@dataclass(frozen=True)
class BenchmarkSource:
    """One benchmark to load: from a file (``path``) or from the Hub (``hub_id``, ``configs``, ``split``)."""

    name: str
    column: str
    path: str | None = None
    hub_id: str | None = None
    configs: tuple[str | None, ...] = (None,)
    split: str = DEFAULT_HUB_SPLIT
    id_column: str | None = None
    data_files: str | None = None
    bundled: bool = False

    def describe(self) -> dict[str, object]:
        if self.path is not None:
            if self.bundled:
                return {"name": self.name, "bundled": Path(self.path).name, "column": self.column}
            return {"name": self.name, "file": self.path, "column": self.column}
        out: dict[str, object] = {
            "name": self.name,
            "hub_id": self.hub_id,
            "configs": [c for c in self.configs if c],
            "split": self.split,
            "column": self.column,
        }
        if self.data_files:
            out["data_files"] = self.data_files
        return out


def bundled_path(name: str) -> Path | None:
    """The bundled copy of benchmark ``name``, or None where it is not bundled (alpaca_eval, unknown names)."""
    spec = KNOWN_BENCHMARKS.get(name)
    path = BUNDLED / f"{name}.jsonl"
    return path if spec is not None and spec.bundled and path.exists() else None


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
    bundled: bool = False,
) -> list[BenchmarkSource]:
    """Turn the ``benchmark`` names (presets expanded) and ``benchmark_file`` entries into sources to load (see
    the module docstring); with ``bundled``, known benchmarks without a file come from the package's copies.
    Raises :class:`NotusDataError` for a name that is neither known, nor a Hub id, nor given a file."""
    benchmark = list(expand_presets(tuple(benchmark)))
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
    for name in benchmark + [n for n in files if n not in benchmark]:
        spec = KNOWN_BENCHMARKS.get(name)
        col = column or (spec.column if spec else DEFAULT_COLUMN)
        if name in files:
            file_col = column or DEFAULT_COLUMN
            sources.append(BenchmarkSource(name=name, column=file_col, path=files[name]))
        elif spec is not None and bundled:
            path = bundled_path(name)
            if path is None:
                raise NotusDataError(
                    f"benchmark: {name!r} is not bundled (license {spec.license}); load it from the Hub "
                    f"({spec.hub_id}: leave out --bundled) or give --benchmark-file {name}=PATH"
                )
            sources.append(BenchmarkSource(name, DEFAULT_COLUMN, path=str(path), bundled=True))
        elif spec is not None:
            sources.append(
                BenchmarkSource(
                    name, col, hub_id=spec.hub_id, configs=spec.configs, split=split or spec.split,
                    id_column=spec.id_column, data_files=spec.data_files,
                )
            )  # fmt: skip
        elif "/" in name:
            hub_id, _, config = name.partition(":")
            sources.append(
                BenchmarkSource(
                    name, col, hub_id=hub_id, configs=(config or None,), split=split or DEFAULT_HUB_SPLIT
                )
            )
        else:
            known = ", ".join([*KNOWN_BENCHMARKS, *PRESETS])
            raise NotusDataError(
                f"benchmark: {name!r} is not a known benchmark or preset ({known}) nor a Hub id "
                f"(owner/name[:config]); give its questions with --benchmark-file {name}=PATH"
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
        for name in expand_presets(tuple(names))
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


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_text_list(t: pa.DataType) -> bool:
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and _is_text(t.value_type)


def _question_column(table: pa.Table, column: str, origin: str, explicit: bool) -> pa.Array:
    names = table.schema.names
    if column not in names:
        text = [f.name for f in table.schema if _is_text(f.type) and f.name != "id"]
        if not explicit and len(text) == 1:
            column = text[0]
        else:
            raise SchemaError(
                f"{origin}: no column {column!r} (columns: {names}); name the question column with "
                "--benchmark-column NAME"
            )
    values = table.column(column)
    if not (_is_text(values.type) or _is_text_list(values.type)):
        raise SchemaError(
            f"{origin}: column {column!r} holds {values.type}, not text; name the question column"
        )
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _turns(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _questions(
    table: pa.Table, values: pa.Array, name: str, id_column: str | None, turns: str | None = None
) -> list[BenchmarkQuestion]:
    """Every question of ``values`` (each turn of a list of turns, and of a ``turns`` column of later turns),
    with its id: the ``id_column`` value (else the row's position), ``/turn-K`` added for the K-th turn."""
    if id_column and id_column in table.schema.names:
        ids = [str(v) if v is not None else str(i) for i, v in enumerate(table.column(id_column).to_pylist())]
    else:
        ids = [str(i) for i in range(len(values))]
    later = table.column(turns).to_pylist() if turns and turns in table.schema.names else None
    out: list[BenchmarkQuestion] = []
    for row, value in enumerate(values.to_pylist()):
        texts = _turns(value) + (_turns(later[row]) if later is not None else [])
        for k, text in enumerate(texts):
            if text and text.strip():
                out.append(BenchmarkQuestion(name, text, ids[row] if k == 0 else f"{ids[row]}/turn-{k + 1}"))
    return out


def load_file(source: BenchmarkSource, *, explicit_column: bool = False) -> list[BenchmarkQuestion]:
    """Questions of a local file (.jsonl, .json, .csv, .parquet or a parquet folder): the question column
    (``question``), the question id (an ``id`` column, else the line number from 0), and the later turns of
    a ``turns`` list column (MT-Bench)."""
    path = Path(source.path or "")
    table = _read_file(path)
    values = _question_column(table, source.column, str(path), explicit_column)
    questions = _questions(table, values, source.name, "id", "turns")
    if not questions:
        raise NotusDataError(f"benchmark_file: {path}: column {source.column!r} holds no question")
    return questions


def load_hub(source: BenchmarkSource) -> list[BenchmarkQuestion]:
    """Questions of a Hub dataset (every config listed, one split), read with ``datasets.load_dataset``.

    The Hub is checked first with one short connection (:func:`~notus_data.io.paths.hub_unreachable`), so an
    offline machine gets one clear line in seconds that names the offline ways."""
    from notus_data.io.paths import hub_unreachable

    offline = bundled_path(source.name)
    fix = f"give a local copy with --benchmark-file {source.name}=PATH (JSON lines with 'id' and 'question')"
    if offline is not None:
        fix += " or use the copy bundled with notus-data (--bundled)"
    reason = None if Path(source.hub_id or "").exists() else hub_unreachable()
    if reason is not None:
        raise NotusDataError(
            f"benchmark {source.name!r}: the Hub is unreachable ({reason}) to load {source.hub_id}; {fix}"
        )
    import datasets

    questions: list[BenchmarkQuestion] = []
    for config in source.configs:
        kwargs = {"data_files": source.data_files} if source.data_files else {}
        try:
            ds = datasets.load_dataset(source.hub_id, config, split=source.split, **kwargs)
        except Exception as exc:  # offline, not found, gated: one clear line
            where = f"{source.hub_id}" + (f" (config {config})" if config else "") + f", split {source.split}"
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no detail"
            raise NotusDataError(
                f"benchmark {source.name!r}: could not load {where} from the Hub ({type(exc).__name__}: "
                f"{detail}); offline, {fix}"
            ) from exc
        table = ds.with_format("arrow")[:]
        values = _question_column(table, source.column, source.hub_id or "", True)
        questions += _questions(table, values, source.name, source.id_column)
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
                payload = json.loads(saved.read_text("utf-8"))
                ids = payload.get("ids") or [str(i) for i in range(len(payload["questions"]))]
                got = [
                    BenchmarkQuestion(source.name, q, i)
                    for q, i in zip(payload["questions"], ids, strict=True)
                ]
                info["from_cache"] = str(saved)
            else:
                if saved is not None:
                    _write_json(
                        saved,
                        {
                            "source": source.describe(),
                            "questions": [q.question for q in got],
                            "ids": [q.id for q in got],
                        },
                    )
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
    names, texts, ids = dedupe(questions)
    if not texts:
        raise NotusDataError("benchmark: the benchmarks hold no question")
    path = Path(cache) / f"index-{content_hash(names, texts, ids)[:32]}.npz"
    if path.exists():
        try:
            return DecontaminationIndex.load(path)
        except (ValueError, KeyError, OSError):
            pass  # a damaged or old cache file is rebuilt below
    index = DecontaminationIndex(names, texts, ids)
    index.save(path)
    return index
