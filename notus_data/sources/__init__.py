"""Rated and ranked preference sets beyond UltraFeedback, each read into the canonical table the steps consume.

One module per source format (see each one's rules): :mod:`.helpsteer2` (``helpsteer2``, and its preference file
``helpsteer2-preference``), :mod:`.nectar`, :mod:`.hh_rlhf` (``hh-rlhf``), :mod:`.rm_scored` (``rm-scored``) and
:mod:`.columns` (any other set, by naming its columns); :mod:`.turns` parses ``Human:/Assistant:`` transcripts.
:mod:`.base` holds the canonical columns these formats add (``prompt_messages``, ``source_score``) and the
per-response grouping. :func:`detect` names the format from an input's columns (``--source-format`` overrides).

>>> detect({"prompt", "answers", "turns"})
'nectar'
>>> detect({"chosen", "rejected"})
'hh-rlhf'
"""

from __future__ import annotations

from typing import Any

from notus_data.errors import SchemaError
from notus_data.sources.columns import Columns
from notus_data.sources.format import FORMAT_NAMES, SourceFormat, SourceOptions
from notus_data.sources.helpsteer2 import PRESETS, HelpSteer2, HelpSteer2Preference
from notus_data.sources.hh_rlhf import HHRLHF
from notus_data.sources.nectar import Nectar
from notus_data.sources.rm_scored import RMScored

#: The formats in detection order (the first whose columns match wins; ``columns`` is never detected).
FORMATS: dict[str, type[SourceFormat]] = {
    "helpsteer2-preference": HelpSteer2Preference,
    "helpsteer2": HelpSteer2,
    "rm-scored": RMScored,
    "nectar": Nectar,
    "hh-rlhf": HHRLHF,
    "columns": Columns,
}


#: Per format: the data set whose schema it reads, and its rules in one line (the card quotes both).
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "helpsteer2": ("nvidia/HelpSteer2", "rows grouped by exact prompt text in input order; score = the (weighted) "
                   "mean of the chosen aspect ratings (0-4; default helpfulness, correctness, coherence)"),
    "helpsteer2-preference": ("nvidia/HelpSteer2 (preference file)", "preference_strength < 0 prefers response_1, "
                              "> 0 response_2, by |strength|; 0 is a tie"),
    "nectar": ("berkeley-nest/Nectar", "Human/Assistant turns parsed into messages (unparsable: invalid row); "
               "score = 8 - rank; answers holding Human:/Assistant: markers excluded"),
    "hh-rlhf": ("Anthropic/hh-rlhf", "prompt = the longest common prefix ending at 'Assistant: ', as messages; "
                "chosen/rejected = the final assistant turns; unparsable, empty and identical pairs counted"),
    "rm-scored": ("a reward-model-scored set (princeton-nlp/llama3-ultrafeedback-armorm and the like)",
                  "score = all_rm_scores, one per all_generated_responses"),
    "columns": ("a set read by named columns", "score = the named score column"),
}  # fmt: skip


def detect(names: set[str] | list[str], origin: str = "input") -> str:
    """The source format of an input with columns ``names`` (``ultrafeedback`` for instruction + completions)."""
    names = set(names)
    if {"instruction", "completions"} <= names:
        return "ultrafeedback"
    for name, cls in FORMATS.items():
        if cls.matches(names):
            return name
    raise SchemaError(
        f"{origin}: no source format has the columns {sorted(names)}; name one with --source-format "
        f"({', '.join(FORMAT_NAMES)}), or map yours with --columns prompt=COL,responses=COL,scores=COL"
    )


def make(name: str, **options: Any) -> SourceFormat:
    """The format ``name`` with its options (``aspects``, ``weights``, ``columns``, ``higher_is_better``)."""
    return FORMATS[name](**options)


__all__ = [
    "DESCRIPTIONS",
    "FORMATS",
    "FORMAT_NAMES",
    "PRESETS",
    "SourceFormat",
    "SourceOptions",
    "detect",
    "make",
]
