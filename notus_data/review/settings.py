"""The Argilla dataset a review runs in: its fields, questions, metadata and guidelines.

One record per flagged completion. A reviewer reads the instruction, the response and the critique, sees the
scores and the flag reasons as metadata (filter and sort by them), and answers:

- ``verdict`` (required): ``confirm`` (the overall_score is right), ``correct`` (it is wrong: use
  ``corrected_score``), or ``discard`` (the completion should take no part in pairing);
- ``corrected_score`` (1-10, needed with ``correct``);
- ``note`` (free text, optional).

Suggestions pre-fill the verdict and the corrected score from the flags (see :func:`suggested_verdict`).
"""

from __future__ import annotations

from typing import Any

from notus_data.errors import require

FIELDS = ("instruction", "response", "critique")
VERDICTS = {
    "confirm": "Confirm: the overall_score is right",
    "correct": "Correct it: the overall_score is wrong (give the corrected score)",
    "discard": "Discard: this completion should take no part in pairing",
}
QUESTIONS = ("verdict", "corrected_score", "note")
#: metadata name -> kind (terms / float), in the order the UI lists them.
METADATA = {
    "source": "terms",
    "model": "terms",
    "flags": "terms",
    "overall_score": "float",
    "avg_rating": "float",
    "score_gap": "float",
    "critique_negativity": "float",
    "response_sha256": "terms",
}
#: Metadata kept on the record for `pull`, not shown to annotators. (The record id holds the prompt_id and the
#: completion index; every metadata property costs the server time on each record pushed, so there are few.)
HIDDEN_METADATA = ("response_sha256",)
SUGGESTION_AGENT = "notus-data flag"

GUIDELINES = """\
## Review the critique score of flagged completions

Each record is one completion that `notus-data flag` marked as suspicious: its GPT-4 critique score
(`overall_score`, 1-10) may be wrong. UltraFeedback's critique step stored a score of 1 as 10 for about 2,000
completions, and the score and the aspect ratings also disagree for other reasons.

Read the instruction, the response and the critique, then answer:

- **verdict**: *confirm* if the overall_score fits the response; *correct* if it does not (then give the
  **corrected_score**, 1-10); *discard* if the completion should take no part in preference pairs at all (broken,
  off-topic, unusable).
- **note** (optional): why, in a few words.

The metadata shows the flag reasons (`flags`), the `overall_score`, the mean aspect rating (`avg_rating`, 1-5),
`score_gap` (overall_score minus the mean rating put on the 1-10 scale: large and positive = the score looks
inflated), and how negative the critique reads (`critique_negativity`, -1..1). Sort by `score_gap` or filter by `flags` to work through one kind at a time.
The suggestions come from the flag rules; change them freely. Press **Submit**: only submitted answers count.
"""


def build_settings(min_submitted: int = 1, guidelines: str = GUIDELINES) -> Any:
    """The ``argilla.Settings`` of a completion-level review dataset (``min_submitted`` answers complete a
    record; ``guidelines``: those written for the data, :func:`notus_data.review.guidelines.completion_guidelines`)."""
    rg = require("argilla", "review")
    metadata = []
    for name, kind in METADATA.items():
        visible = name not in HIDDEN_METADATA
        kind_class = rg.TermsMetadataProperty if kind == "terms" else rg.FloatMetadataProperty
        metadata.append(kind_class(name, visible_for_annotators=visible))
    return rg.Settings(
        guidelines=guidelines,
        fields=[
            rg.TextField("instruction", title="Instruction", use_markdown=True),
            rg.TextField("response", title="Response", use_markdown=True),
            rg.TextField("critique", title="GPT-4 critique", required=False, use_markdown=True),
        ],
        questions=[
            rg.LabelQuestion("verdict", labels=VERDICTS, title="Is the overall_score right?"),
            rg.RatingQuestion(
                "corrected_score",
                values=list(range(1, 11)),
                title="Corrected overall_score (with 'correct')",
                required=False,
            ),
            rg.TextQuestion("note", title="Note (optional)", required=False),
        ],
        metadata=metadata,
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def missing_parts(dataset: Any) -> list[str]:
    """What an existing dataset lacks to be a notus-data review dataset (empty when it fits)."""
    settings = dataset.settings
    have_fields = {f.name for f in settings.fields}
    have_questions = {q.name for q in settings.questions}
    have_metadata = {m.name for m in settings.metadata}
    missing = [f"field '{n}'" for n in FIELDS if n not in have_fields]
    missing += [f"question '{n}'" for n in QUESTIONS if n not in have_questions]
    missing += [f"metadata '{n}'" for n in METADATA if n not in have_metadata]
    return missing


def suggested_verdict(reasons: list[str]) -> str:
    """The verdict suggested for a completion with these flag reasons.

    ``correct`` when a rule says the overall_score itself looks wrong; ``confirm`` when only the per-prompt
    ``chosen_mismatch`` fired (the score may be fine; the reviewer decides).

    >>> suggested_verdict(["chosen_mismatch"]), suggested_verdict(["score10_low_rating", "chosen_mismatch"])
    ('confirm', 'correct')
    """
    return "confirm" if set(reasons) <= {"chosen_mismatch"} else "correct"
