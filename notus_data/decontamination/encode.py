"""Fast tokenization of many texts into vocabulary ids, on the raw UTF-8 bytes with numpy.

It gives the same tokens as the reference :func:`~notus_data.decontamination.normalize.tokenize` (a test
checks it), about five times faster: ASCII texts (most prompts) are tokenized straight from their bytes by
the same rules, written as byte classes; other texts first go through the reference normalization (Unicode
NFKC, case folding, Unicode quotes and dashes), whose output the byte rules leave as it is.

Words are looked up by their bytes packed into three 64-bit integers (words longer than 24 bytes are looked
up one by one, and only when the vocabulary has such words).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontamination.normalize import BOUNDARY, BOUNDARY_ID, UNKNOWN_ID, Encoded

# Byte classes.
_WORD, _APOS, _DOT, _BREAK, _COLON, _NL, _WS, _DASH, _OTHER = range(9)
_CLASS = np.full(256, _OTHER, dtype=np.uint8)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _CLASS[_c] = _WORD
_CLASS[0x80:] = _WORD  # only in texts already normalized: every byte >= 0x80 belongs to a letter or digit
_CLASS[ord("'")] = _CLASS[ord("`")] = _APOS
_CLASS[ord(".")] = _DOT
_CLASS[ord("?")] = _CLASS[ord("!")] = _BREAK
_CLASS[ord(":")] = _COLON
_CLASS[ord("\n")] = _NL
for _c in b' \t\r\x0b\x0c"\x02':
    _CLASS[_c] = _WS
_CLASS[ord("-")] = _DASH
_IS_BREAK = np.zeros(9, dtype=bool)
_IS_BREAK[[_BREAK, _NL]] = True
_IS_SPACE = np.zeros(9, dtype=bool)
_IS_SPACE[[_WS, _NL]] = True
_IS_DOT_OR_COLON = np.zeros(9, dtype=bool)
_IS_DOT_OR_COLON[[_DOT, _COLON]] = True
_ENDS_DOT = np.zeros(9, dtype=bool)  # a dot followed by one of these stays a dot
_ENDS_DOT[[_WS, _NL, _DOT, _BREAK, _COLON]] = True
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[ord("A") : ord("Z") + 1] += 32
_MASK = np.array([0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [2**64 - 1], dtype=np.uint64)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))
_PACKED = 24  # bytes of a word compared in packed form


def _pack(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Words (byte spans of ``buf``, which has 24 bytes of slack at its end) as three uint64 (the bytes,
    zero-padded; the 2nd and 3rd are 0 for words of up to 8 bytes) and a 64-bit key mixing them."""
    view = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    w0 = view[starts] & _MASK[np.minimum(lengths, 8)]
    w1 = np.zeros(len(starts), dtype=np.uint64)
    w2 = np.zeros(len(starts), dtype=np.uint64)
    longer = np.flatnonzero(lengths > 8)
    with np.errstate(over="ignore"):
        key = (w0 * _MIX[0]) ^ (lengths.astype(np.uint64) * _MIX[2])
        if len(longer):
            ls, ll = starts[longer], lengths[longer]
            w1[longer] = view[ls + 8] & _MASK[np.clip(ll - 8, 0, 8)]
            w2[longer] = view[ls + 16] & _MASK[np.clip(ll - 16, 0, 8)]
            key[longer] ^= (w1[longer] * _MIX[1]) ^ (w2[longer] * _MIX[2])
        key ^= key >> np.uint64(29)
    return w0, w1, w2, key


class Vocabulary:
    """Word -> id lookup for :func:`encode_fast`. ``words`` must start with ``[BOUNDARY, ""]``."""

    def __init__(self, words: list[str]):
        if words[:2] != [BOUNDARY, ""]:
            raise ValueError("a vocabulary starts with the boundary marker and the empty word")
        self.words = list(words)
        self.array = pa.array(self.words, pa.string())
        encoded = [w.encode("utf-8") for w in self.words]
        lengths = np.array([len(b) for b in encoded], dtype=np.int64)
        buf = np.frombuffer(b"".join(encoded) + bytes(_PACKED + 8), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        w0, w1, w2, key = _pack(buf, starts, lengths)
        self._w = (w0, w1, w2)
        self._lengths = lengths
        self._long = {w: i for i, w in enumerate(self.words) if len(encoded[i]) > _PACKED}
        # Open-addressing hash table: slot = top bits of the key, linear probing.
        bits = max(10, int(np.ceil(np.log2(max(len(words), 1) * 4))))
        self._shift = np.uint64(64 - bits)
        table = np.full(2**bits, -1, dtype=np.int64)
        probes = 1
        for i in range(2, len(words)):  # the marker and "" are never looked up by their bytes
            if lengths[i] > _PACKED:
                continue
            slot, step = int(key[i] >> self._shift), 1
            while table[slot] >= 0:
                slot, step = (slot + 1) % len(table), step + 1
            table[slot] = i
            probes = max(probes, step)
        self._table = table
        self._probes = probes

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Vocabulary id of each word span of ``buf`` (UNKNOWN_ID when absent)."""
        ids = np.full(len(starts), UNKNOWN_ID, dtype=np.int32)
        if not len(starts):
            return ids
        fits = np.flatnonzero(lengths <= _PACKED)
        all_fit = len(fits) == len(starts)
        f_starts, f_len = (starts, lengths) if all_fit else (starts[fits], lengths[fits])
        w0, w1, w2, key = _pack(buf, f_starts, f_len)
        slot = (key >> self._shift).astype(np.int64)
        found = np.full(len(f_starts), UNKNOWN_ID, dtype=np.int64)
        todo = None  # first probe on every word, then only on those that hit another word's slot
        for _ in range(self._probes):
            s_ = slot if todo is None else slot[todo]
            cand = self._table[s_]
            safe = np.maximum(cand, 0)
            w0_, len_ = (w0, f_len) if todo is None else (w0[todo], f_len[todo])
            ok = (cand >= 0) & (self._w[0][safe] == w0_) & (self._lengths[safe] == len_)
            longer = np.flatnonzero(ok & (len_ > 8))
            if len(longer):
                pick = longer if todo is None else todo[longer]
                ok[longer] = (self._w[1][safe[longer]] == w1[pick]) & (self._w[2][safe[longer]] == w2[pick])
            if todo is None:
                found[ok] = cand[ok]
                todo = np.flatnonzero(~ok & (cand >= 0))
            else:
                found[todo[ok]] = cand[ok]
                todo = todo[~ok & (cand >= 0)]
            if not len(todo):
                break
            slot[todo] = (slot[todo] + 1) % len(self._table)
        if all_fit:
            ids[:] = found
        else:
            ids[fits] = found
        if self._long:
            for i in np.flatnonzero(lengths > _PACKED).tolist():
                word = bytes(buf[starts[i] : starts[i] + lengths[i]]).decode("utf-8", "replace")
                ids[i] = self._long.get(word, UNKNOWN_ID)
        return ids


def _framed_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """All texts in one byte array, each framed by "\\n" on both sides, plus the frame offsets."""
    framed = pc.binary_join_element_wise("\n", texts, "\n", "")
    if not isinstance(framed, pa.StringArray):
        framed = framed.cast(pa.string())
    offsets = np.frombuffer(
        framed.buffers()[1], dtype=np.int32, count=len(framed) + 1, offset=framed.offset * 4
    )
    data = np.frombuffer(framed.buffers()[2], dtype=np.uint8)
    start, end = int(offsets[0]), int(offsets[-1])
    buf = np.empty(end - start + _PACKED + 8, dtype=np.uint8)
    buf[: end - start] = _LOWER[data[start:end]]
    buf[end - start :] = ord("\n")
    return buf, (offsets - start).astype(np.int64)


def _tokens(buf: np.ndarray, offsets: np.ndarray, vocab: Vocabulary) -> Encoded:
    """Token ids of the framed texts in ``buf`` (see :func:`_framed_bytes`), by the byte rules."""
    body = len(buf) - (_PACKED + 8)
    cls = _CLASS[buf]
    cls[body:] = _WS
    # 1. Apostrophes vanish; 2. so does a dot inside a token (followed by anything but white space, a dot,
    # ? ! or a colon). Both are rare: work on their positions.
    for deletable in (_apostrophes, _inner_dots):
        gone = deletable(cls)
        if len(gone):
            offsets = offsets - np.searchsorted(gone, offsets, side="left")
            buf = np.delete(buf, gone)
            cls = np.delete(cls, gone)
    n = len(cls)
    # 3. Sentence breaks: ? and !, a line break, a dot or colon before white space, a dash run between spaces.
    marker = _IS_BREAK[cls]
    punct = np.flatnonzero(_IS_DOT_OR_COLON[cls])
    marker[punct[_IS_SPACE[cls[np.minimum(punct + 1, n - 1)]]]] = True
    dashes = np.flatnonzero(cls == _DASH)
    if len(dashes):
        run_start = dashes[np.concatenate([[True], np.diff(dashes) > 1])]
        run_end = dashes[np.concatenate([np.diff(dashes) > 1, [True]])]
        spaced = _IS_SPACE[cls[np.maximum(run_start - 1, 0)]] & _IS_SPACE[cls[np.minimum(run_end + 1, n - 1)]]
        marker[run_start[spaced]] = True
    # 4. Words: runs of word bytes.
    is_word = cls == _WORD
    edge = np.empty(n + 1, dtype=bool)
    edge[0] = is_word[0]
    np.not_equal(is_word[1:], is_word[:-1], out=edge[1:-1])
    edge[-1] = is_word[-1]
    bounds = np.flatnonzero(edge)
    w_starts, w_ends = bounds[0::2], bounds[1::2]
    event = marker
    event[w_starts] = True
    events = np.flatnonzero(event)
    ev_word = is_word[events]
    ids = np.full(len(events), BOUNDARY_ID, dtype=np.int32)
    ids[ev_word] = vocab.lookup(buf, w_starts, w_ends - w_starts)
    # Rows: the events between a row's frame offsets; collapse repeated markers inside a row.
    row_bounds = np.searchsorted(events, offsets)
    is_b = ids == BOUNDARY_ID
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = ~(is_b[1:] & is_b[:-1])
    keep[row_bounds[:-1][row_bounds[:-1] < len(ids)]] = True  # every row keeps its leading marker
    kept = np.concatenate([[0], np.cumsum(keep)])
    return Encoded(ids=ids[keep], offsets=kept[row_bounds].astype(np.int64))


def _apostrophes(cls: np.ndarray) -> np.ndarray:
    return np.flatnonzero(cls == _APOS)


def _inner_dots(cls: np.ndarray) -> np.ndarray:
    dots = np.flatnonzero(cls == _DOT)
    return dots[~_ENDS_DOT[cls[np.minimum(dots + 1, len(cls) - 1)]]]


# Unicode quotes and dashes -> their ASCII forms, then any other non-ASCII character that is not a letter,
# mark or digit -> "\x01" (a separator that, like them, is not white space for the dot and colon rules).
# With NFKC and lower case, this is all that normalize() does beyond ASCII.
_UNICODE_FOLDS: tuple[tuple[str, str], ...] = (
    ("\u00df", "ss"),
    ("[\u2018\u2019\u201a\u201b\u02bc\u02b9\u00b4\u2032]", "'"),
    ("[\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033]", '"'),
    ("\u2014", " - "),
    ("\u2013", "-"),
    ("[^\\p{L}\\p{M}\\p{N}\\x00-\\x7f]", "\x01"),
)


def _fold_unicode(texts: pa.Array) -> pa.Array:
    out = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    for pattern, replacement in _UNICODE_FOLDS:
        out = pc.replace_substring_regex(out, pattern=pattern, replacement=replacement)
    return out


def encode_fast(texts: pa.Array | pa.ChunkedArray, vocab: Vocabulary) -> Encoded:
    """Token ids of every text, framed by boundary markers, repeated markers collapsed; unknown words -1.

    The same result as ``normalize.encode(texts, vocab.array)``, computed on bytes.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if pa.types.is_large_string(texts.type) or pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.string())
    texts = pc.fill_null(texts, "")
    ascii_ = pc.string_is_ascii(texts)
    if not pc.all(ascii_).as_py():
        # Bring the other texts to ASCII punctuation (the byte rules do the rest); their letters stay.
        mask = pc.invert(ascii_)
        texts = pc.replace_with_mask(texts, mask, _fold_unicode(pc.filter(texts, mask)))
    buf, offsets = _framed_bytes(texts)
    return _tokens(buf, offsets, vocab)
