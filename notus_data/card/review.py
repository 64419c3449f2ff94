"""The card's words on review decisions: how many were applied, of which kind, and how much the reviewers agreed.

The counts come from the run's ``review`` section; the reviewers and their agreement from the report that
``notus-data review pull`` wrote beside the decisions file, when it is there.

>>> review_sentence({"decisions": 3, "decisions_matched": 3, "confirmed": 1, "score_corrected": 1, "discarded": 1,
...                  "text_differs": 0, "unmatched": 0}, None)
'Review decisions applied before scoring: 3 decisions, 3 matched a completion: 1 confirmed, 1 score corrected, 1 excluded from pairing; 0 not applied (text differs), 0 unmatched. (No review pull report beside the decisions file: reviewers and agreement not recorded.)'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notus_data.card.context import thousands
from notus_data.io import report_path

#: The start of the sentence; the training report finds it in the card's funnel.
LEAD = "Review decisions applied before scoring"
KINDS = (
    ("confirmed", "confirmed"),
    ("score_corrected", "score corrected"),
    ("discarded", "excluded from pairing"),
    ("ranked", "ranked (human score source)"),
)


def pull_report(decisions: str | None) -> dict[str, Any] | None:
    """The report of the ``review pull`` that wrote ``decisions``, or None."""
    if not decisions:
        return None
    path = Path(report_path(decisions))
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return report if report.get("command") == "review pull" else None


def _agreement(pulled: dict[str, Any]) -> str:
    info = pulled.get("info", {})
    verdict = (info.get("agreement") or {}).get("verdict") or {}
    reviewers = verdict.get("reviewers")
    head = f"Reviewed by {reviewers} reviewer{'s' if reviewers != 1 else ''}" if reviewers else "Reviewed"
    level = info.get("level")
    head += f" in a {level}-level Argilla review" if level else ""
    if not verdict.get("items"):
        return head + "; no completion was answered by two reviewers, so there is no agreement to report."
    figures = [
        f"{verdict['share_agreeing']:.0%} of the {thousands(verdict['items'])} completions answered by two or more agree"
    ]
    if verdict.get("krippendorff_alpha") is not None:
        figures.append(f"Krippendorff's alpha {verdict['krippendorff_alpha']:.2f}")
    if verdict.get("cohen_kappa") is not None:
        figures.append(f"Cohen's kappa {verdict['cohen_kappa']:.2f}")
    unusable = sum((pulled.get("steps", {}).get("pull", {}).get("unusable_answers") or {}).values())
    tail = (
        f"; {thousands(unusable)} answers could not be used (listed in the pull report)" if unusable else ""
    )
    return f"{head}; verdict agreement: {', '.join(figures)}{tail}."


def review_sentence(counts: dict[str, Any], pulled: dict[str, Any] | None) -> str:
    """One paragraph: the decisions applied by kind, then the reviewers and their agreement."""
    kinds = ", ".join(f"{thousands(counts[k])} {words}" for k, words in KINDS if k in counts)
    text = (
        f"{LEAD}: {thousands(counts.get('decisions', 0))} decisions, {thousands(counts.get('decisions_matched', 0))} "
        f"matched a completion: {kinds}; {thousands(counts.get('text_differs', 0))} not applied (text differs), "
        f"{thousands(counts.get('unmatched', 0))} unmatched."
    )
    if pulled is None:
        return (
            text + " (No review pull report beside the decisions file: reviewers and agreement not recorded.)"
        )
    return f"{text} {_agreement(pulled)}"
