"""Prompt-level review records (the default kind): one record per flagged prompt, every completion of it on the page.

A record's id is the prompt_id. Its fields are the ``instruction`` and one markdown field per completion
(``completion_1`` ... ``completion_K``) holding, in this order: whether it is flagged, the model, a scores block
(overall_score, the mean aspect rating on 1-5 and on the 1-10 scale, each aspect's rating), its flags in plain words
(:data:`notus_data.steps.flag.PLAIN_WORDS`), the response and the GPT-4 critique (scores first: they stay on screen
above a long response). Per completion the reviewer
answers ``verdict_i`` (confirm / correct / exclude) and ``score_i`` (the corrected overall_score, 1-10); one
``note`` per record, and ``checked`` (required: Argilla publishes no dataset without a required question): *done*
when every flagged completion has a verdict, *partly* when some are left (pull lists a *done* record whose flagged
completions lack a verdict). Argilla has no conditional questions, so "a score is required with correct" cannot be enforced
in the settings: :mod:`notus_data.review.pull` lists every correction without a score with its record.

The optional ``ranking`` question (best first) becomes the human score source of ``--score human``
(:mod:`notus_data.steps.score`; pull writes it as ``human_rank``).

The hidden metadata ``review_keys`` holds, per completion shown, ``"{slot}|{index}|{response_sha256}|{flagged}"`` so that pull
writes decisions that ``review apply`` checks against the text that was reviewed.
"""

from __future__ import annotations

from typing import Any

from notus_data.errors import require
from notus_data.schema import ASPECTS
from notus_data.steps.flag import PLAIN_WORDS

#: Completion slots a new dataset gets at least (UltraFeedback has 4 completions a prompt).
MIN_SLOTS = 4
PROMPT_VERDICTS = {
    "confirm": "Confirm: the overall_score is right",
    "correct": "Correct it: give the corrected score below",
    "exclude": "Exclude: keep this completion out of every pair",
}
#: The one required question (Argilla publishes no dataset without one): the reviewer says the record is done.
CHECKED = {
    "done": "Done: every flagged completion has a verdict",
    "partly": "Partly: I left some flagged completions unjudged",
}
#: verdict label -> the decision the decisions file holds (the format of notus_data.steps.decisions).
TO_DECISION = {"confirm": "confirm", "correct": "correct", "exclude": "discard"}
PROMPT_METADATA = {"source": "terms", "flags": "terms", "max_score_gap": "float", "review_keys": "terms"}
HIDDEN = ("review_keys",)
SUGGESTION_AGENT = "notus-data flag"
#: How sure a rule is that its verdict is right (the suggestion's score, 0-1).
RULE_CONFIDENCE = {
    "score10_low_rating": 0.9,
    "score10_mid_rating": 0.5,
    "score_rating_disagree": 0.6,
    "negative_critique": 0.6,
    "chosen_mismatch": 0.3,
}


def slot_names(slots: int) -> list[str]:
    return [f"completion_{i}" for i in range(1, slots + 1)]


def build_prompt_settings(slots: int, min_submitted: int, guidelines: str) -> Any:
    """The ``argilla.Settings`` of a prompt-level dataset with ``slots`` completion fields."""
    rg = require("argilla", "review")
    fields = [rg.TextField("instruction", title="Instruction", use_markdown=True)]
    questions = []
    for i in range(1, slots + 1):
        fields.append(
            rg.TextField(f"completion_{i}", title=f"Completion {i}", use_markdown=True, required=i == 1)
        )
    for i in range(1, slots + 1):
        absent = "" if i == 1 else f" (leave empty where the record shows no completion {i})"
        questions.append(
            rg.LabelQuestion(
                f"verdict_{i}",
                labels=PROMPT_VERDICTS,
                title=f"Completion {i}: is its overall_score right?{absent}",
                required=False,
            )
        )
        questions.append(
            rg.RatingQuestion(
                f"score_{i}",
                values=list(range(1, 11)),
                title=f"Completion {i}: corrected overall_score (needed with 'correct')",
                required=False,
            )
        )
    questions.append(
        rg.RankingQuestion(
            "ranking",
            values={f"completion_{i}": f"Completion {i}" for i in range(1, slots + 1)},
            title="Optional: rank the completions, best first (empty slots last)",
            required=False,
        )
    )
    questions.append(rg.TextQuestion("note", title="Note (optional)", required=False))
    questions.append(
        rg.LabelQuestion(
            "checked", labels=CHECKED, title="Did you judge every FLAGGED completion?", required=True
        )
    )
    metadata = [
        (rg.TermsMetadataProperty if kind == "terms" else rg.FloatMetadataProperty)(
            name, visible_for_annotators=name not in HIDDEN
        )
        for name, kind in PROMPT_METADATA.items()
    ]
    return rg.Settings(
        guidelines=guidelines,
        fields=fields,
        questions=questions,
        metadata=metadata,
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )


def dataset_slots(dataset: Any) -> int:
    """How many completion fields a prompt-level dataset has (0 for another kind)."""
    names = {f.name for f in dataset.settings.fields}
    n = 0
    while f"completion_{n + 1}" in names:
        n += 1
    return n


def prompt_missing_parts(dataset: Any) -> list[str]:
    """What an existing dataset lacks to be a prompt-level review dataset."""
    settings = dataset.settings
    fields = {f.name for f in settings.fields}
    questions = {q.name for q in settings.questions}
    metadata = {m.name for m in settings.metadata}
    missing = [f"field '{n}'" for n in ("instruction", "completion_1") if n not in fields]
    missing += [f"question '{n}'" for n in ("verdict_1", "score_1", "note") if n not in questions]
    missing += [f"metadata '{n}'" for n in PROMPT_METADATA if n not in metadata]
    return missing


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "none"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def completion_markdown(c: dict[str, Any], reasons: list[str] | None) -> str:
    """The page text of one completion (``c``: the canonical completion plus ``avg_rating``, ``rating_as_score``)."""
    head = "**FLAGGED**" if reasons else "not flagged"
    lines = [f"{head} · model: `{c.get('model') or 'unknown'}`", "", "#### Scores", ""]
    lines.append(f"- **overall_score** (critique, 1-10): {_number(c.get('overall_score'))}")
    lines.append(
        f"- **mean rating** (of the aspect ratings, 1-5): {_number(c.get('avg_rating'))}"
        f" = {_number(c.get('rating_as_score'))} on the 1-10 scale"
    )
    rationales = c.get("rationales") or {}
    if not any(aspect in c for aspect in ASPECTS):
        lines.append("- aspect ratings: not in the flagged file (push with --data INPUT to show them)")
    for aspect in ASPECTS if any(aspect in c for aspect in ASPECTS) else ():
        why = rationales.get(aspect)
        lines.append(f"- {aspect}: **{_number(c.get(aspect))}**" + (f": {why}" if why else ""))
    if reasons:
        lines += ["", "#### Flags", ""]
        lines += [f"- **{r}**: {PLAIN_WORDS[r]}" for r in reasons]
    lines += ["", "#### Response", "", c.get("response") or "*(empty response)*"]
    lines += ["", "#### GPT-4 critique", "", c.get("critique") or "*(no critique)*"]
    return "\n".join(lines)


def suggestion_for(reasons: list[str]) -> tuple[str, float]:
    """(verdict label, confidence) the flag rules suggest for a completion with these reasons.

    >>> suggestion_for(["chosen_mismatch"]), suggestion_for(["score10_low_rating", "chosen_mismatch"])
    (('confirm', 0.3), ('correct', 0.9))
    """
    verdict = "confirm" if set(reasons) <= {"chosen_mismatch"} else "correct"
    return verdict, max(RULE_CONFIDENCE[r] for r in reasons)


def build_prompt_record(prompt: dict[str, Any]) -> Any:
    """One ``argilla.Record`` from a prompt: ``prompt_id``, ``source``, ``instruction`` and ``completions`` (each a
    dict with ``index``, the canonical fields, ``avg_rating``, ``rating_as_score``, ``response_sha256``, and
    ``reasons`` / ``suggested_score`` when flagged)."""
    import argilla as rg

    fields = {"instruction": prompt["instruction"] or "*(empty instruction)*"}
    suggestions = []
    keys, flags, gaps = [], set(), []
    for slot, c in enumerate(prompt["completions"], start=1):
        reasons = c.get("reasons") or []
        fields[f"completion_{slot}"] = completion_markdown(c, reasons)
        keys.append(f"{slot}|{c['index']}|{c['response_sha256'] or ''}|{int(bool(reasons))}")
        if not reasons:
            continue
        flags.update(reasons)
        if c.get("score_gap") is not None:
            gaps.append(c["score_gap"])
        verdict, confidence = suggestion_for(reasons)
        agent = f"{SUGGESTION_AGENT}: {' '.join(reasons)}"  # the server allows no comma
        suggestions.append(rg.Suggestion(f"verdict_{slot}", verdict, score=confidence, agent=agent))
        if verdict == "correct" and c.get("suggested_score") is not None:
            suggestions.append(
                rg.Suggestion(f"score_{slot}", int(c["suggested_score"]), score=confidence, agent=agent)
            )
    metadata: dict[str, Any] = {
        "source": prompt["source"],
        "flags": sorted(flags, key=list(PLAIN_WORDS).index),
        "review_keys": keys,
    }
    if gaps:
        metadata["max_score_gap"] = float(max(gaps))
    return rg.Record(id=prompt["prompt_id"], fields=fields, metadata=metadata, suggestions=suggestions)


def parse_keys(keys: list[str] | None) -> dict[int, tuple[int, str | None, bool]]:
    """slot -> (completion index, response_sha256, flagged), from a record's ``review_keys``.

    >>> parse_keys(["2|3||0", "1|0|ab|1"])
    {1: (0, 'ab', True), 2: (3, None, False)}
    """
    out = {}
    for key in keys or []:
        slot, index, sha, flagged = (str(key).split("|") + ["1"])[:4]
        out[int(slot)] = (int(index), sha or None, flagged == "1")
    return dict(sorted(out.items()))
