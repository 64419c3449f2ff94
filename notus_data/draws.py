"""Seed-keyed draws: one uniform number per row from (seed, prompt_id) alone, computed on whole columns.

Every random choice of notus-data (the rejected completion of a pair, the side a response is shown on) comes
from :func:`draw_uniform`, so it never depends on batch size, row order or the number of processes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX_VALUE = np.zeros(256, dtype=np.uint64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
_HEX_VALUE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_NIBBLE_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: a fast, well-mixed 64-bit hash (wraps modulo 2**64)."""
    x = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def prompt_id_bits(prompt_ids: pa.Array) -> np.ndarray:
    """The first 64 bits of each prompt_id (a sha256 hex digest) as uint64; null gives 0."""
    head = pc.utf8_slice_codeunits(pc.fill_null(prompt_ids, "0" * 16), 0, 16)
    head = pc.utf8_rpad(head, 16, "0")  # defensive: ids shorter than 16 characters
    head = head.cast(pa.string())
    offsets = np.frombuffer(head.buffers()[1], dtype=np.int32)[head.offset : head.offset + len(head) + 1]
    data = np.frombuffer(head.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 16)
    return (
        np.bitwise_or.reduce(_HEX_VALUE[data] << _NIBBLE_SHIFTS, axis=1)
        if len(data)
        else np.zeros(0, np.uint64)
    )


def draw_uniform(prompt_ids: pa.Array, seed: int) -> np.ndarray:
    """One number in [0, 1) per row, a function of (seed, prompt_id) alone.

    ``u = splitmix64(first 64 bits of prompt_id XOR splitmix64(seed)) / 2**64`` (53 bits kept), computed on
    whole columns at once.
    """
    seed_bits = splitmix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    mixed = splitmix64(prompt_id_bits(prompt_ids) ^ seed_bits)
    return (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53
