"""Offline cloud and cloud-shadow detection for scenes without an SCL or probability layer.

The models are those of ``ukis-csmask`` 1.0.0 (DLR, Apache-2.0; Wieland et al., RSE 2019),
shipped as ONNX files inside its wheel: a U-Net (EfficientNet-B4 encoder) per product level
(L1C, L2A) and band set (6 bands: blue, green, red, NIR, SWIR 1.6, SWIR 2.2 = B02, B03, B04,
B08, B11, B12; or 4 bands without the SWIRs), trained at about 30 m on 256 x 256 tiles. Only
the ONNX file and its JSON statistics are taken from the installed package, and they run in
this engine's own ONNX Runtime session (the package's Python code would pull scipy and start
its own session). Classes: 0 clear, 1 cloud, 2 cloud shadow.

What it cannot see: thin cirrus (there is no B10 / cirrus band in its input), haze, snow
against bright cloud (confused at times), shadows of clouds outside the scene; it works at
30 m (finer for scenes under 7.7 km), so clouds and shadows narrower than 2-3 of those pixels
are missed (the buffer helps).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Cancelled, InputError
from .runtime import OnnxModel, RuntimeOptions

_log = logging.getLogger(__name__)

PACKAGE = "ukis-csmask"
VERSION = "1.0.0"
LICENCE = "Apache-2.0"
BANDS_6: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")
BANDS_4: tuple[str, ...] = ("B02", "B03", "B04", "B08")
#: the resolution the models were trained at
WORK_PIXEL_M = 30.0


def work_pixel_m(native_m: float, width_m: float, tile: int = 256) -> float:
    """The detector's working resolution: 30 m, or finer for a scene narrower than one tile
    at 30 m (otherwise the model sees mostly the mirror padding of a small scene and misses
    its clouds), never finer than the layer's own pixels."""
    return min(WORK_PIXEL_M, max(native_m, width_m / tile))
#: reflectance = DN / QUANTIFICATION (Sentinel-2 L1C and L2A DN)
QUANTIFICATION = 10000.0
OVERLAP = 0.2
CLASS_NAMES = {0: "clear", 1: "cloud", 2: "cloud shadow"}


@dataclass(frozen=True)
class DetectorModel:
    """One ukis-csmask model: its ONNX file, input bands and normalisation."""

    onnx: Path
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    tile: int
    version: str


def package_dir() -> Path:
    """The installed ukis_csmask folder, or an InputError that says how to install it."""
    spec = importlib.util.find_spec("ukis_csmask")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the offline cloud detector needs the Python package {PACKAGE} "
                         f"{VERSION} (its ONNX models): pip install {PACKAGE}=={VERSION} "
                         "--no-deps (see requirements/detector.txt), or choose another mask "
                         "source")
    return Path(next(iter(spec.submodule_search_locations)))


def find_model(level: str, available: Sequence[str]) -> DetectorModel:
    """The 6-band model when B11 and B12 are there, else the 4-band one; ``level`` is
    ``S2L2A`` or ``S2L1C``."""
    have = {b.upper() for b in available}
    if all(b in have for b in BANDS_6):
        bands = BANDS_6
    elif all(b in have for b in BANDS_4):
        bands = BANDS_4
    else:
        raise InputError(f"the cloud detector needs bands {', '.join(BANDS_4)} (better also "
                         f"B11, B12); the layer has {', '.join(sorted(have)) or 'none named'}")
    tag = "l2a" if level == "S2L2A" else "l1c"
    stem = package_dir() / f"model_{len(bands)}b_{tag}"
    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        stats = meta["data"]["dataset_statistics"]
        names = [str(n) for n in stats["band_names"]]
        mean, std = stats["img"]
        tile = int(meta["data"]["target_size"][0])
        version = str(meta["model"]["version"])
    except (OSError, KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{PACKAGE} model {stem.name} is unreadable: {exc}") from None
    expect = ["blue", "green", "red", "nir", "swir16", "swir22"][:len(bands)]
    if names != expect:
        raise InputError(f"{PACKAGE} model {stem.name} expects bands {names}, not {expect}")
    return DetectorModel(onnx=stem.with_suffix(".onnx"), bands=bands,
                         mean=tuple(map(float, mean)), std=tuple(map(float, std)), tile=tile,
                         version=version)


def _taper(n: int, overlap: float) -> np.ndarray:
    """A Tukey window (flat middle, cosine ends): tiles blend smoothly where they overlap."""
    w = np.ones(n, dtype=np.float32)
    m = max(1, int(overlap * n))
    ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(m) + 0.5) / m))
    w[:m] = ramp
    w[-m:] = ramp[::-1]
    return w


class CloudDetector:
    """Classes (0 clear, 1 cloud, 2 shadow) of a reflectance image, tile by tile."""

    def __init__(self, model: DetectorModel, options: RuntimeOptions | None = None) -> None:
        self.model = model
        self.onnx = OnnxModel(model.onnx, options or RuntimeOptions(),
                              name=f"{PACKAGE} {model.version}")
        self.onnx.check_interface({self.onnx.input_names[0]: [len(model.bands), model.tile,
                                                               model.tile]}, {})

    @property
    def device(self) -> str:
        return self.onnx.device

    def classes(self, reflectance: np.ndarray, valid: np.ndarray | None = None,
                *, batch: int = 4, cancel: Callable[[], bool] | None = None) -> np.ndarray:
        """(C, H, W) reflectance in 0-1, bands in ``model.bands`` order -> (H, W) uint8.

        The image is mirrored at its edges up to whole tiles, cut into 256 px tiles that
        overlap by 20 %, and the softmax of each tile is blended with a tapered window.
        Invalid pixels are class 0 (the fill treats them as nodata anyway).
        """
        m = self.model
        c, h, w = reflectance.shape
        if c != len(m.bands):
            raise InputError(f"the detector takes {len(m.bands)} bands, got {c}")
        mean = np.asarray(m.mean, np.float32)[:, None, None]
        std = np.asarray(m.std, np.float32)[:, None, None]
        x = (np.nan_to_num(reflectance.astype(np.float32)) - mean) / std
        t = m.tile
        step = t - int(OVERLAP * t)
        pad = int(OVERLAP * t)
        ny = max(1, -(-(h + 2 * pad - t) // step) + 1)
        nx = max(1, -(-(w + 2 * pad - t) // step) + 1)
        hh, ww = (ny - 1) * step + t, (nx - 1) * step + t
        xp = np.pad(x, ((0, 0), (pad, hh - h - pad), (pad, ww - w - pad)), mode="symmetric")
        win = np.outer(_taper(t, OVERLAP), _taper(t, OVERLAP)).astype(np.float32)
        acc = np.zeros((3, hh, ww), np.float32)
        weight = np.zeros((hh, ww), np.float32)
        origins = [(i * step, j * step) for i in range(ny) for j in range(nx)]
        name = self.onnx.input_names[0]
        for k in range(0, len(origins), batch):
            if cancel is not None and cancel():
                raise Cancelled("cancelled while detecting clouds")
            chunk = origins[k:k + batch]
            tiles = np.stack([xp[:, r:r + t, q:q + t] for r, q in chunk])
            logits = self.onnx.run({name: tiles})[0].astype(np.float32)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
            for (r, q), p in zip(chunk, prob, strict=True):
                acc[:, r:r + t, q:q + t] += p * win
                weight[r:r + t, q:q + t] += win
        acc /= np.maximum(weight, 1e-6)
        out = acc[:, pad:pad + h, pad:pad + w].argmax(axis=0).astype(np.uint8)
        if valid is not None:
            out[~valid] = 0
        return out

    def close(self) -> None:
        del self.onnx
