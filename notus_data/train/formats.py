"""The pair formats the trainer reads: see :mod:`notus_data.formats.read` (moved there so that sources and
``convert`` read pairs with the same code)."""

from notus_data.formats.read import (
    CONVERSATION,
    FORMAT_COLUMNS,
    MESSAGE,
    REASONS,
    detect_format,
    to_conversational,
)

__all__ = ["CONVERSATION", "FORMAT_COLUMNS", "MESSAGE", "REASONS", "detect_format", "to_conversational"]
