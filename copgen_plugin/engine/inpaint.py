"""Latent inpainting for partly observed modalities (an engine design; not in the official code).

COP-GEN conditions whole modalities only. To fill gaps inside one modality, the observed part
is encoded and held fixed in latent space, RePaint-style: before every network evaluation at
time t, the observed latent cells of the state are replaced by the observation's latent noised
to t, ``alpha(t) z_obs + sigma(t) eps``; at the end they are set to ``z_obs`` itself.

``eps`` is the sample's own initial noise in those cells, not fresh noise: for a perfect
denoiser that is exactly the deterministic solver's trajectory through ``z_obs`` (the data
prediction update maps ``alpha_s z + sigma_s eps`` to ``alpha_t z + sigma_t eps``), so the
replacement never fights the ODE, and at t = 1 the state is the initial noise plus a small
``alpha(1) z_obs``.

Which latent cells count as observed: a cell is observed only if every pixel it covers is
observed, and so are all cells within ``margin`` cells of it (the decoder's 3x3 convolutions
spread every latent cell over its neighbours' pixels). Gap pixels therefore never leak into the
held latent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..arrays import dilate
from ..errors import InputError
from .joint import LatentLayout
from .schedule import NoiseSchedule


def latent_observed_mask(
    observed: np.ndarray, latent_hw: tuple[int, int], *, margin: int = 1
) -> np.ndarray:
    """Pixel mask (H, W), True = observed -> latent-cell mask (h, w), True = held fixed."""
    observed = np.asarray(observed, dtype=bool)
    h, w = latent_hw
    if observed.ndim != 2 or observed.shape[0] % h or observed.shape[1] % w:
        raise InputError(f"observed mask of shape {observed.shape} does not tile the "
                         f"{h}x{w} latent grid")
    fy, fx = observed.shape[0] // h, observed.shape[1] // w
    cells = observed.reshape(h, fy, w, fx).all(axis=(1, 3))
    if margin < 0:
        raise InputError(f"margin must be >= 0, got {margin}")
    # erosion: a cell stays observed only if its (2m+1)^2 neighbourhood is (cells outside the
    # footprint do not count as gaps)
    return ~dilate(~cells, margin)


@dataclass(frozen=True)
class HeldLatent:
    """One modality's observation in latent space and the cells to hold."""

    latent: np.ndarray  # (1 or B, C, h, w) diffusion units
    cells: np.ndarray  # (h, w) bool


class LatentInpainting:
    """A solver :class:`~.sampler.Constraint` holding observed latent cells of the joint state."""

    def __init__(
        self,
        schedule: NoiseSchedule,
        layout: LatentLayout,
        held: Mapping[str, HeldLatent],
        initial_state: np.ndarray,
    ) -> None:
        self.schedule = schedule
        index_parts, value_parts = [], []
        batch = initial_state.shape[0]
        for key, obs in held.items():
            if key not in layout.slices:
                raise InputError(f"{key} is held by inpainting but is not generated")
            c, h, w = layout.specs[key].latent_shape
            if obs.cells.shape != (h, w):
                raise InputError(f"{key}: latent mask {obs.cells.shape} != latent grid {(h, w)}")
            flat = np.broadcast_to(obs.cells, (c, h, w)).reshape(-1)
            index_parts.append(layout.slices[key].start + np.flatnonzero(flat))
            z = np.broadcast_to(obs.latent, (batch, c, h, w)).reshape(batch, -1)
            value_parts.append(z[:, flat])
        self.index = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int64)
        self.z_obs = (np.concatenate(value_parts, axis=1) if value_parts
                      else np.zeros((batch, 0), np.float32)).astype(np.float32)
        self.eps = initial_state[:, self.index].astype(np.float32)

    @property
    def held_values(self) -> int:
        return int(self.index.size)

    def apply(self, x: np.ndarray, t: float) -> np.ndarray:
        if not self.index.size:
            return x
        a, s = float(self.schedule.alpha(t)), float(self.schedule.sigma(t))
        x = x.copy()
        x[:, self.index] = a * self.z_obs + s * self.eps
        return x

    def finish(self, x: np.ndarray) -> np.ndarray:
        if not self.index.size:
            return x
        x = x.copy()
        x[:, self.index] = self.z_obs
        return x
