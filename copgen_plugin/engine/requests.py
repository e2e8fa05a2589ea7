"""Plain dataclasses in and out of :meth:`CopgenEngine.generate` (no QGIS, no widgets).

Callers deal in physical units: S2 DN (reflectance x 10000), S1 linear power gamma0 (or dB with
``s1_in_db``), DEM metres, class codes, ``(lat, lon)`` degrees and a :class:`datetime.date`.
The engine normalises them (``modalities``); ``inputs_normalised=True`` skips that for callers
that already hold network-space arrays (images (C_img, H, W), scalars (1, 1, 1, 3)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the two official treatments of modalities that are neither given nor requested
OTHER_MODALITIES = ("generate", "noise")
#: how a condition image becomes a latent
CONDITION_LATENTS = ("mean", "sample")


@dataclass
class PartialObservation:
    """A target modality observed in part: fill the gaps, keep the rest.

    ``values``: physical raster (C_raw, H, W) on the modality's grid (anything under a gap is
    ignored), or (n_samples, C_raw, H, W) for one observation per sample (e.g. the overlap a
    neighbouring footprint generated, held per sample so samples continue across the seam);
    ``observed``: (H, W) bool, True where ``values`` are valid, shared by all samples.
    """

    values: np.ndarray
    observed: np.ndarray


@dataclass
class GenerationRequest:
    """One footprint: what is given, what to generate, and how.

    * ``targets``: modality keys to generate and return (a key in ``partial`` is a target too).
    * ``conditions``: key -> physical value (see the module docstring), held clean at t = 0.
    * ``other_modalities``: ``generate`` (default, as the official CLI: every modality neither
      given nor requested is generated jointly and discarded) or ``noise`` (the official API:
      fresh noise labelled t = 0 at every step).
    * ``condition_latent``: ``mean`` (default, deterministic: posterior mean x scale factor) or
      ``sample`` (one posterior draw shared by all samples, as the official ``encode``).
    * ``batch_size``: most samples per denoiser call (memory bound); each sample's noise does
      not depend on it (only batched kernels may round differently).
    * ``steps``: solver steps = network evaluations (None: the package default, 50).
    * ``seed``: None draws fresh entropy; the result records the seed actually used.
    * ``harmonise``: give each sample of a partly observed continuous modality a smooth offset
      over its gap pixels that meets the observation at the gap's edge (``harmonise``), so no
      frame shows around gaps and footprints.
    """

    targets: Sequence[str] = ()
    conditions: Mapping[str, Any] = field(default_factory=dict)
    partial: Mapping[str, PartialObservation] = field(default_factory=dict)
    n_samples: int = 1
    steps: int | None = None
    seed: int | None = None
    batch_size: int = 4
    other_modalities: str = "generate"
    condition_latent: str = "mean"
    inputs_normalised: bool = False
    s1_in_db: bool = False
    lulc_code_remap: Mapping[int, int] | None = None
    inpaint_margin: int = 1
    harmonise: bool = True
    composite_observed: bool = True


@dataclass
class GenerationResult:
    """N samples of every requested modality, in physical units.

    * ``samples[key]``: images (N, C, H, W) float32 (S2 DN, S1 linear, DEM m); categorical
      (N, 1, H, W) int64 codes (in the caller's numbering when a code remap was given);
      lat_lon (N, 1, 1, 2) degrees; timestamps (N, 1, 1, 3) int64 [day, month, year].
    * ``latents[key]``: (N, c, h, w) diffusion-space latents the decoder received.
    * ``generated[key]``: (H, W) bool, True where the pixel is the model's (image modalities);
      observed pixels of a partial observation are False (and hold the observation when
      ``composite_observed``, so resampling onto another grid blends the observation into
      the gap edge; bit-exact pass-through of a file's pixels is the writer's mask).
    * ``latent_held[key]``: (h, w) bool, latent cells held by inpainting.
    * ``condition_latent``: ``posterior_mean`` or ``posterior_sample``, for the UI to report.
    """

    samples: dict[str, np.ndarray]
    latents: dict[str, np.ndarray]
    generated: dict[str, np.ndarray]
    latent_held: dict[str, np.ndarray]
    condition_latent: str
    other_modalities: str
    seed: int
    steps: int
    n_samples: int
    device: str
    providers: dict[str, list[str]]
    model_id: str
    model_version: str
