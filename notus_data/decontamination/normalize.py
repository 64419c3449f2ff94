"""Text normalization and tokenization for decontamination, vectorized over Arrow string arrays.

Both the benchmark questions and the prompts go through the same function, so a question and its
copy tokenize alike whatever their case, quotes, punctuation or spacing:

1. Unicode NFKC, then lower case (plus ``ß`` -> ``ss``): ``"Ｗｈｙ"`` -> ``"why"``.
2. Apostrophes and single quotes (straight or curly) are deleted, so ``don't``, ``don’t`` and ``dont``
   are one token; double quotes become spaces.
3. A dot inside a token is deleted (``U.S.`` -> ``US``, ``3.5`` -> ``35``).
4. Sentence breaks become the marker token :data:`BOUNDARY`: ``?`` and ``!``, a ``.`` or ``:`` before a space
   or the end, a line break, and a dash between spaces (``" - "``, ``"—"``).
5. Every other run of non-letters/non-digits is a space; the text is split on white space.

:func:`tokenize` returns the token lists; :func:`encode` maps tokens to ids of a vocabulary and adds a
boundary marker at the start and end of every text, collapsing repeated markers, so a sentence is
always framed by markers: ``"Q: Who are you?"`` -> ``| q | who are you |``.

>>> import pyarrow as pa
>>> tokenize(pa.array(["Answer truthfully: Why DO veins appear “blue”?"])).to_pylist()
[['answer', 'truthfully', '\\x02', 'why', 'do', 'veins', 'appear', 'blue', '\\x02']]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BOUNDARY = "\x02"
"""The token that stands for a sentence break (and the start and end of a text)."""

BOUNDARY_ID = 0
EMPTY_ID = 1
"""Vocabularies start with ``[BOUNDARY, ""]``; the empty token (from empty texts) counts as a boundary."""
UNKNOWN_ID = -1
"""Token id of a word that is not in the vocabulary (no benchmark question contains it)."""

# (pattern, replacement) applied in order with RE2 (pyarrow.compute.replace_substring_regex). The output
# holds letters, marks, digits, spaces, and "\n" for every sentence break.
_REWRITES: tuple[tuple[str, str], ...] = (
    ("[\x02\x0b]", " "),
    ("\u00df", "ss"),
    ("[\u2018\u2019\u201a\u201b\u02bc\u02b9\u0060\u00b4\u2032']", ""),
    ('[\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"]', " "),
    ("\\.([^\\s.?!:])", "\\1"),
    ("[?!]+|\\.+(\\s|$)|:(\\s|$)|\n|\\s[-\u2013\u2014]+\\s|\u2014", " \n "),
    ("[^\\p{L}\\p{M}\\p{N}\n]+", " "),
)


def _as_string_array(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if pa.types.is_large_string(texts.type) or pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.string())
    return pc.fill_null(texts, "")


def normalize(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Normalized text of each string (nulls become ``""``): words separated by spaces, a ``"\\n"`` for each
    sentence break. The reference implementation, with Arrow regular expressions."""
    out = pc.utf8_lower(pc.utf8_normalize(_as_string_array(texts), "NFKC"))
    for pattern, replacement in _REWRITES:
        out = pc.replace_substring_regex(out, pattern=pattern, replacement=replacement)
    return out


def tokenize(texts: pa.Array | pa.ChunkedArray) -> pa.ListArray:
    """Token lists of the normalized strings, sentence breaks as :data:`BOUNDARY` (see the module docstring)."""
    marked = pc.replace_substring(normalize(texts), pattern="\n", replacement=" " + BOUNDARY + " ")
    return pc.utf8_split_whitespace(pc.utf8_trim_whitespace(marked))


@dataclass(frozen=True)
class Encoded:
    """Texts as one flat array of token ids plus row offsets (CSR layout).

    ``ids[offsets[i]:offsets[i + 1]]`` are the tokens of text ``i``, framed by boundary markers (id 0);
    unknown words are :data:`UNKNOWN_ID`.
    """

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, len = rows + 1

    @property
    def num_rows(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def row_ids(self) -> np.ndarray:
        """The text index of every token (int64, aligned with ``ids``)."""
        return np.repeat(np.arange(self.num_rows, dtype=np.int64), np.diff(self.offsets))


def encode(texts: pa.Array | pa.ChunkedArray, vocabulary: pa.Array) -> Encoded:
    """Tokenize ``texts`` and map every token to its position in ``vocabulary`` (a string array that
    starts with ``[BOUNDARY, ""]``); a boundary marker frames every text and repeated markers collapse."""
    lists = tokenize(texts)
    return encode_tokens(lists, vocabulary)


def encode_tokens(lists: pa.ListArray, vocabulary: pa.Array) -> Encoded:
    """:func:`encode` for already tokenized texts."""
    offsets = lists.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]
    flat = lists.flatten()
    ids = pc.fill_null(pc.index_in(flat, value_set=vocabulary), UNKNOWN_ID).to_numpy()
    ids = ids.astype(np.int32)
    ids[ids == EMPTY_ID] = BOUNDARY_ID
    n_rows = len(offsets) - 1
    counts = np.diff(offsets)
    # Room for a leading and a trailing marker on every row.
    new_offsets = offsets + 2 * np.arange(n_rows + 1, dtype=np.int64)
    framed = np.zeros(len(ids) + 2 * n_rows, dtype=np.int32)
    if len(ids):
        row_of_token = np.repeat(np.arange(n_rows, dtype=np.int64), counts)
        framed[np.arange(len(ids), dtype=np.int64) + 2 * row_of_token + 1] = ids
    # Collapse runs of markers inside a row (the frame ensures no run crosses rows).
    is_marker = framed == BOUNDARY_ID
    keep = np.ones(len(framed), dtype=bool)
    keep[1:] = ~(is_marker[1:] & is_marker[:-1])
    keep[new_offsets[:-1]] = True
    kept_per_row = np.add.reduceat(keep, new_offsets[:-1]) if n_rows else np.zeros(0, np.int64)
    kept_per_row = np.where(np.diff(new_offsets) > 0, kept_per_row, 0)
    out_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(kept_per_row, out=out_offsets[1:])
    return Encoded(ids=framed[keep], offsets=out_offsets)
