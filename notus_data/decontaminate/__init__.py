"""Decontamination: remove benchmark questions (TruthfulQA by default) from prompts, exact and near copies.

Pieces, each usable on its own:

* :mod:`.benchmarks` loads benchmark questions (Hub or local file) and builds the index;
* :class:`DecontaminationIndex` holds the questions tokenized, with their lookup tables;
* :func:`match_texts` finds the best match of each text in an Arrow string array (exact, normalized, n-gram
  coverage, near-duplicate);
* :func:`decontaminate_table` / :class:`DecontaminationStep` split a table into kept rows and evidence;
* :func:`decontaminate` runs the whole job on a file or Hub id (``notus-data decontaminate``).

>>> import pyarrow as pa
>>> index = DecontaminationIndex.build([BenchmarkQuestion("truthfulqa", "Can pigs fly?")])
>>> kept, evidence = decontaminate_table(pa.table({"prompt": ["Q: can PIGS fly", "Can birds fly?"]}), index)
>>> kept.num_rows, evidence.column("question").to_pylist()
(1, ['Can pigs fly?'])
"""

from notus_data.decontaminate.api import decontaminate, evidence_path
from notus_data.decontaminate.benchmarks import (
    KNOWN_BENCHMARKS,
    build_index,
    load_questions,
    resolve_benchmarks,
)
from notus_data.decontaminate.index import BenchmarkQuestion, DecontaminationIndex
from notus_data.decontaminate.matchers import METHODS, Matches, MatchSettings, match_texts
from notus_data.decontaminate.options import DecontaminateOptions
from notus_data.decontaminate.step import (
    ALL_METHODS,
    EVIDENCE_SCHEMA,
    DecontaminationStep,
    decontaminate_table,
    find_contamination,
)

__all__ = [
    "ALL_METHODS",
    "EVIDENCE_SCHEMA",
    "KNOWN_BENCHMARKS",
    "METHODS",
    "BenchmarkQuestion",
    "DecontaminateOptions",
    "DecontaminationIndex",
    "DecontaminationStep",
    "MatchSettings",
    "Matches",
    "build_index",
    "decontaminate",
    "decontaminate_table",
    "evidence_path",
    "find_contamination",
    "load_questions",
    "match_texts",
    "resolve_benchmarks",
]
