"""``review apply``: apply review decisions, then score and binarize: ``binarize(..., decisions=...)``.

Applying needs no Argilla server: the decisions are a file (from ``notus-data review pull``). The rules of a
decision are those of :mod:`notus_data.steps.decisions`.
"""

from __future__ import annotations

import os
from typing import Any

from notus_data.jobs.binarize import binarize
from notus_data.report import Report


def apply(
    input: Any, output: str | os.PathLike | None, *, decisions: str | os.PathLike, **options: Any
) -> Report:
    """Load ``input``, apply the review ``decisions``, then score and binarize.

    Writes the pairs to ``output``, the report (with a ``decisions`` section: decisions_matched, confirmed,
    score_corrected, discarded, text_differs, unmatched) to ``OUTPUT.report.json``, and every change to
    ``OUTPUT.changes.jsonl``. ``options`` are those of :func:`notus_data.jobs.binarize.binarize`.
    """
    return binarize(input, output, decisions=decisions, **options)
