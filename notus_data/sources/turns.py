"""Anthropic-style transcripts: ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` text to and from message lists.

Rules (those of TRL's hh-rlhf script, stated so that they can be checked):

- a turn starts at ``"\\n\\nHuman: "`` or ``"\\n\\nAssistant: "`` (the space after the colon is optional; a text that
  starts with ``"Human:"`` is read as if it started with ``"\\n\\nHuman:"``); the turn's content is the text up to the
  next marker, unchanged (not stripped);
- a transcript parses when it starts with a Human turn and the roles alternate (Human, Assistant, Human, ...);
  anything else (text before the first marker, two Human turns in a row) does not parse;
- a Nectar prompt ends with ``"\\n\\nAssistant:"`` (the turn to generate): it is cut off, and what is left must
  parse and end with a Human turn;
- hh-rlhf: the prompt is the longest common prefix of the chosen and rejected transcripts, cut back so that it ends
  at ``"\\n\\nAssistant: "``; chosen and rejected are what follows it in each transcript; the prompt (without that
  last marker) must parse and end with a Human turn, and neither remainder may hold a turn marker.
"""

from __future__ import annotations

import os
import re

MARKER = re.compile(r"\n\n(Human|Assistant):[ ]?")
ROLES = {"Human": "user", "Assistant": "assistant"}
GENERATION = "\n\nAssistant: "
#: Turn markers that exclude a Nectar answer (it goes on the conversation by itself).
ANSWER_MARKERS = ("Human:", "Assistant:")


def parse(text: str | None) -> list[dict[str, str]] | None:
    """Messages of a transcript, or None where it does not parse.

    >>> parse("\\n\\nHuman: Hi\\n\\nAssistant: Hello\\n\\nHuman: How are you?")
    [{'content': 'Hi', 'role': 'user'}, {'content': 'Hello', 'role': 'assistant'}, {'content': 'How are you?', 'role': 'user'}]
    >>> parse("Hi there") is None
    True
    """
    if text is None:
        return None
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    pieces = MARKER.split(text)
    if len(pieces) < 3 or pieces[0] != "":
        return None
    messages = []
    for k in range(1, len(pieces), 2):
        role = ROLES[pieces[k]]
        expected = "user" if (k // 2) % 2 == 0 else "assistant"
        if role != expected:
            return None
        messages.append({"content": pieces[k + 1], "role": role})
    return messages


def parse_prompt(text: str | None) -> list[dict[str, str]] | None:
    """A Nectar prompt (ends with ``"\\n\\nAssistant:"``) as messages ending with the last user turn, or None.

    >>> parse_prompt("\\n\\nHuman: What is 2+2?\\n\\nAssistant:")
    [{'content': 'What is 2+2?', 'role': 'user'}]
    """
    if text is None:
        return None
    body = text.rstrip(" ")
    if not body.endswith("\n\nAssistant:"):
        return None
    messages = parse(body[: -len("\n\nAssistant:")])
    if not messages or messages[-1]["role"] != "user":
        return None
    return messages


def has_turns(text: str | None) -> bool:
    """Whether an answer holds a turn marker of its own (``Human:`` or ``Assistant:``)."""
    return text is not None and any(marker in text for marker in ANSWER_MARKERS)


def split_pair(chosen: str | None, rejected: str | None) -> tuple[list[dict[str, str]], str, str] | None:
    """hh-rlhf: (prompt messages, chosen turn, rejected turn), or None where the pair does not parse.

    >>> split_pair("\\n\\nHuman: Hi\\n\\nAssistant: Hello!", "\\n\\nHuman: Hi\\n\\nAssistant: Go away.")
    ([{'content': 'Hi', 'role': 'user'}], 'Hello!', 'Go away.')
    """
    if chosen is None or rejected is None:
        return None
    common = os.path.commonprefix([chosen, rejected])
    if not common.endswith(GENERATION):
        cut = common.rfind(GENERATION)
        if cut < 0:
            return None
        common = common[: cut + len(GENERATION)]
    chosen_turn, rejected_turn = chosen[len(common) :], rejected[len(common) :]
    if MARKER.search(chosen_turn) or MARKER.search(rejected_turn):
        return None
    messages = parse(common[: -len(GENERATION)])
    if not messages or messages[-1]["role"] != "user":
        return None
    return messages, chosen_turn, rejected_turn
