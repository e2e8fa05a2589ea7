"""The demo model's modalities and its training data in the network space.

The demo uses the real COP-GEN keys, band orders and normalisations (so the plugin treats it
exactly like the real model) at a 480 m footprint: S2/S1/LULC 48 x 48 px at 10 m, DEM 16 x 16 px
at 30 m. The tokenizers downsample by 4, not COP-GEN's 8 (latents 12 x 12 and 4 x 4): a 2 x 2
latent loses the DEM entirely (GroupNorm over 2 x 2 cells removes level and relief), and the
package format takes any factor (the engine reads it from the shapes). Normalisation goes
through the engine's own ``normalise_image`` so training and inference cannot disagree.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping

import numpy as np

from copgen_plugin.engine.modalities import ModalitySpec as EngineSpec
from copgen_plugin.engine.modalities import Normalisation, normalise_image
from models.configs import LATENT_CHANNELS, LULC_CODES, MODALITIES, ModalityConfig
from models.demo.world import DEM_FACTOR, FOOTPRINT_PX, PIXEL_M, Scene, generate_scene

log = logging.getLogger(__name__)

DEM_KEY = "DEM_DEM"
LULC_KEY = "LULC_LULC"
S1_KEY = "S1RTC_vh_vv"
S2_KEY = "S2L2A_B02_B03_B04_B08"
DEMO_KEYS = (DEM_KEY, LULC_KEY, S1_KEY, S2_KEY)  # ASCII order = network order
FOOTPRINT_M = int(FOOTPRINT_PX * PIXEL_M)
HELD_OUT_SEED = 1_000_000  # scene seeds >= this are never used for training
DOWNSAMPLING = 4  # image pixels per latent cell (2 downsampling levels)


def demo_specs(scale_factors: Mapping[str, float] | None = None,
               latents: Mapping[str, tuple[int, int, int | None]] | None = None
               ) -> dict[str, ModalityConfig]:
    """COP-GEN specs of the four demo modalities, resized to the demo footprint.

    ``latents`` maps a key to (latent channels, downsampling factor, denoiser patch or None)
    where a recipe departs from (LATENT_CHANNELS, DOWNSAMPLING) (recipes 2-4: a sharper S2
    tokenizer, issue 19); None keeps a token at 8 x 8 image pixels. The manifest carries the
    resulting latent shape and the graph the patch, so the engine needs nothing else.
    """
    scale_factors = scale_factors or {}
    latents = latents or {}
    specs = {}
    for key in DEMO_KEYS:
        base = MODALITIES[key]
        size = FOOTPRINT_PX // DEM_FACTOR if key == DEM_KEY else FOOTPRINT_PX
        channels, factor, patch = latents.get(key, (LATENT_CHANNELS, DOWNSAMPLING, None))
        specs[key] = dataclasses.replace(
            base,
            image_shape=(base.image_shape[0], size, size),
            latent_shape=(channels, size // factor, size // factor),
            scale_factor=float(scale_factors.get(key, 1.0)),
            vae_folder=None,
            # by default a token covers 8 x 8 image pixels: a finer latent gets a larger patch,
            # so the denoiser's token count (and cost) does not grow with it; but a token's
            # patch x patch x channels values must fit through embed_dim (recipe 3's
            # 4 x 4 x 16 = 256 into 120 lost half the latent: garbage samples), so recipe 4
            # sets the patch
            patch=patch if patch else (None if factor == DOWNSAMPLING
                                       else 2 * DOWNSAMPLING // factor),
        )
        assert size * (base.pixel_size_m or 0) == FOOTPRINT_M, key
    return specs


def engine_spec(spec: ModalityConfig) -> EngineSpec:
    norm = dict(spec.normalisation)
    kind = norm.pop("kind")
    return EngineSpec(key=spec.key, kind=spec.kind, family=spec.family, bands=spec.bands,
                      image_shape=spec.image_shape, latent_shape=spec.latent_shape,
                      normalisation=Normalisation(kind, norm), scale_factor=spec.scale_factor,
                      pixel_size_m=spec.pixel_size_m)


def scene_rasters(scene: Scene) -> dict[str, np.ndarray]:
    """Physical rasters (C_raw, H, W) of a scene keyed by modality."""
    return {
        DEM_KEY: scene.dem[None].astype(np.float32),
        LULC_KEY: scene.lulc[None].astype(np.int64),
        S1_KEY: scene.s1,
        S2_KEY: scene.s2.astype(np.float32),
    }


def lulc_channels(codes: np.ndarray) -> np.ndarray:
    """Esri codes -> one-hot channel index (uint8), as the engine's onehot table."""
    index = np.zeros(codes.shape, np.uint8)
    for ch, code in enumerate(LULC_CODES):
        index[codes == code] = ch
    return index


def build_dataset(seeds: Iterable[int], specs: Mapping[str, ModalityConfig]
                  ) -> dict[str, np.ndarray]:
    """Network-space arrays of many footprints; LULC kept as channel indices (N, H, W) uint8.

    One-hot LULC would be 10x the memory; :func:`onehot` expands a batch on the fly.
    """
    seeds = list(seeds)
    eng = {k: engine_spec(s) for k, s in specs.items()}
    out: dict[str, list[np.ndarray]] = {k: [] for k in DEMO_KEYS}
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds):
        raw = scene_rasters(generate_scene(seed))
        out[LULC_KEY].append(lulc_channels(raw[LULC_KEY][0]))
        for key in (DEM_KEY, S1_KEY, S2_KEY):
            out[key].append(normalise_image(eng[key], raw[key]))
        if (i + 1) % 500 == 0:
            log.info("generated %d/%d scenes (%.1f s)", i + 1, len(seeds),
                     time.perf_counter() - t0)
    return {k: np.stack(v) for k, v in out.items()}


def onehot(index: np.ndarray, channels: int = len(LULC_CODES)) -> np.ndarray:
    """(N, H, W) channel indices -> (N, C, H, W) float32 in {-1, +1} (the network space)."""
    eye = np.eye(channels, dtype=np.float32) * 2.0 - 1.0
    return np.ascontiguousarray(np.moveaxis(eye[index], -1, 1))


def network_batch(data: Mapping[str, np.ndarray], key: str, rows: np.ndarray) -> np.ndarray:
    """Network-space images of ``rows`` for one modality."""
    if key == LULC_KEY:
        return onehot(data[key][rows])
    return data[key][rows]
