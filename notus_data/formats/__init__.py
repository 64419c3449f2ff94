"""Pair formats: the columns pairs are written with (:mod:`~notus_data.formats.write`), read back from
(:mod:`~notus_data.formats.read`), and the message lists they hold (:mod:`~notus_data.formats.messages`)."""

from notus_data.formats.messages import MESSAGE_TYPE, MESSAGES_TYPE, conversation, prompt_turns
from notus_data.formats.write import FORMATS, SCHEMAS, build, dataset_info, kto_order

__all__ = [
    "FORMATS",
    "MESSAGES_TYPE",
    "MESSAGE_TYPE",
    "SCHEMAS",
    "build",
    "conversation",
    "dataset_info",
    "kto_order",
    "prompt_turns",
]
