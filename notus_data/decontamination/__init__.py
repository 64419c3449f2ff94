"""Decontamination: find benchmark questions (TruthfulQA by default) in prompts, exact and near copies.

The library behind the decontaminate step (:mod:`notus_data.steps.decontaminate`); each piece usable on its own:

* :mod:`.benchmarks` loads benchmark questions (Hub or local file);
* :class:`DecontaminationIndex` holds the questions tokenized, with their lookup tables;
* :func:`match_texts` finds the best match of each text in an Arrow string array (exact, normalized, n-gram
  coverage, near-duplicate);
* :func:`find_contamination` / :func:`decontaminate_table` split a table into kept rows and evidence.

>>> import pyarrow as pa
>>> index = DecontaminationIndex.build([BenchmarkQuestion("truthfulqa", "Can pigs fly?")])
>>> kept, evidence = decontaminate_table(pa.table({"prompt": ["Q: can PIGS fly", "Can birds fly?"]}), index)
>>> kept.num_rows, evidence.column("question").to_pylist()
(1, ['Can pigs fly?'])
"""

from notus_data.decontamination.benchmarks import (
    KNOWN_BENCHMARKS,
    benchmark_paths,
    build_index,
    load_questions,
    resolve_benchmarks,
)
from notus_data.decontamination.find import (
    ALL_METHODS,
    EVIDENCE_SCHEMA,
    check_columns,
    decontaminate_table,
    describe_index,
    find_contamination,
    load_index,
)
from notus_data.decontamination.index import BenchmarkQuestion, DecontaminationIndex
from notus_data.decontamination.matchers import METHODS, Matches, MatchSettings, match_texts
from notus_data.decontamination.options import DecontaminateOptions

__all__ = [
    "ALL_METHODS",
    "EVIDENCE_SCHEMA",
    "KNOWN_BENCHMARKS",
    "METHODS",
    "BenchmarkQuestion",
    "DecontaminateOptions",
    "DecontaminationIndex",
    "MatchSettings",
    "Matches",
    "benchmark_paths",
    "build_index",
    "check_columns",
    "decontaminate_table",
    "describe_index",
    "find_contamination",
    "load_index",
    "load_questions",
    "match_texts",
    "resolve_benchmarks",
]
