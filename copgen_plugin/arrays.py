"""Small numpy helpers the engine, geo and fill share (numpy only; a neutral home, so no
layer imports another for them): Sentinel-1 dB <-> linear power, and mask dilation."""

from __future__ import annotations

import numpy as np


def db_to_linear(values: np.ndarray) -> np.ndarray:
    """dB -> linear power, 10^(x/10), float32 (NaN stays NaN)."""
    return np.power(np.float32(10.0), np.asarray(values, dtype=np.float32) / np.float32(10.0))


def linear_to_db(values: np.ndarray, *, floor: float | None = 1e-12) -> np.ndarray:
    """Linear power -> dB, 10 log10(x), float32; values below ``floor`` (None: no floor) are
    raised to it first, so zero power gives a finite (very low) dB."""
    v = np.asarray(values, dtype=np.float32)
    if floor is not None:
        v = np.maximum(v, np.float32(floor))
    return (np.float32(10.0) * np.log10(v)).astype(np.float32)


def dilate(mask: np.ndarray, distance: int) -> np.ndarray:
    """(H, W) bool: True within ``distance`` pixels (chessboard) of a True pixel of ``mask``;
    nothing outside the array counts."""
    h, w = mask.shape
    padded = np.pad(mask, distance)
    out = mask.copy()
    for dy in range(2 * distance + 1):
        for dx in range(2 * distance + 1):
            out |= padded[dy:dy + h, dx:dx + w]
    return out
