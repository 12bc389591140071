"""Packing helpers on numpy arrays (no GPU needed)."""
from __future__ import annotations

import numpy as np

from ._bitjit import general_compress as _general_compress


def general_compress(values, bits: int = 4) -> np.ndarray:
    """Packs codes (each in [0, 2**bits)) along the last axis, 8 // bits per byte, element j of a
    byte at bits [j*bits, (j+1)*bits) (LSB first). values: 2-D [rows, cols]; returns uint8
    [rows, cols * bits // 8]. Raises ConfigError (a ValueError) naming an out-of-range element."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"values must be 2-D [rows, cols], got shape {array.shape}")
    if array.min(initial=0) < 0:
        raise ValueError("values must be codes in [0, 2**bits); got a negative value")
    rows, cols = array.shape
    codes = np.ascontiguousarray(array, dtype=np.int64)
    if codes.max(initial=0) > 255:
        raise ValueError(f"values must be codes in [0, 2**bits); got {int(codes.max())}")
    packed = _general_compress(codes.astype(np.uint8).reshape(-1), rows, cols, bits)
    return np.frombuffer(packed, dtype=np.uint8).reshape(rows, cols * bits // 8).copy()
