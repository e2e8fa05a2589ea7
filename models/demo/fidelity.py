"""How much of a scene survives the S2 tokenizer's round trip (issue 19): RMSE and edges.

One home for the two figures that ``benchmarks/bench_spread.py`` prints for a package (ONNX
graphs) and that ``models/demo/tokenizer_trials.py`` prints for a torch VAE in training, so a
trial and the shipped package are graded the same way. numpy only (no torch, no engine).

* RMSE in DN over every pixel and band of the held-back footprints;
* gradient ratio: mean magnitude of the reconstruction's pixel gradients over the truth's
  (1 = as sharp as the scene, the 303 DN / 0.54 of the first demo model = soft blobs). The
  gradients are forward differences in both directions, so parcel edges, shorelines and forest
  margins dominate them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from models.demo.data import HELD_OUT_SEED
from models.demo.world import generate_scene

TOKENIZER_SEED = HELD_OUT_SEED + 500  # the benchmark's held-back footprints (never trained on)
TOKENIZER_SCENES = 32


def held_back_s2(count: int = TOKENIZER_SCENES, first: int = TOKENIZER_SEED) -> np.ndarray:
    """(count, 4, H, W) float32 DN of held-back footprints (B04, B03, B02, B08)."""
    return np.stack([generate_scene(first + i).s2 for i in range(count)]).astype(np.float32)


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """(..., H, W) -> (..., H-1, W-1) |grad| from forward differences."""
    dy = np.diff(images, axis=-2)[..., :, :-1]
    dx = np.diff(images, axis=-1)[..., :-1, :]
    return np.sqrt(dx * dx + dy * dy)


def roundtrip_figures(truth: np.ndarray, decoded: np.ndarray) -> tuple[float, float]:
    """(RMSE DN, gradient ratio) of decoded images against the truth (same shape, DN)."""
    truth = np.asarray(truth, np.float64)
    decoded = np.asarray(decoded, np.float64)
    if truth.shape != decoded.shape:
        raise ValueError(f"shapes differ: truth {truth.shape}, decoded {decoded.shape}")
    rmse = float(np.sqrt(np.mean((decoded - truth) ** 2)))
    ratio = float(gradient_magnitude(decoded).mean() / gradient_magnitude(truth).mean())
    return rmse, ratio


def batches(count: int, size: int) -> Iterable[slice]:
    for i in range(0, count, size):
        yield slice(i, min(i + size, count))
