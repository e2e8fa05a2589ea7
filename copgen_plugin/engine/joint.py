"""The joint latent of the generated modalities and the noise model over it.

COP-GEN samples every generated modality at once: their latents are flattened in network order
(C, h, w each) and concatenated into one state vector per batch row, which the solver updates
(COPGEN_REFERENCE.md section 4.3). At every network evaluation the state is split back into
modalities; conditions are fed clean with timestep 0, generated modalities with 1000 t, and
"other" modalities (neither given nor generated; only in the official API's mode) with fresh
N(0, I) noise labelled t = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from ..errors import InputError
from .modalities import ModalitySpec

#: (latents per key (B, C, h, w), timesteps per key (B,)) -> noise prediction per key
Denoiser = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
#: (key, shape) -> N(0, I) noise of that shape, float32
NoiseSource = Callable[[str, tuple[int, ...]], np.ndarray]


class LatentLayout:
    """Where each generated modality lives in the flat joint state (B, D)."""

    def __init__(self, specs: Sequence[ModalitySpec], generated: Collection[str]) -> None:
        self.specs = {s.key: s for s in specs}
        unknown = set(generated) - set(self.specs)
        if unknown:
            raise InputError(f"cannot generate unknown modalities: {sorted(unknown)}")
        self.keys = tuple(s.key for s in specs if s.key in generated)  # network order
        self.slices: dict[str, slice] = {}
        offset = 0
        for key in self.keys:
            n = self.specs[key].latent_size
            self.slices[key] = slice(offset, offset + n)
            offset += n
        self.size = offset

    def pack(self, latents: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-modality latents (B, C, h, w) -> the flat state (B, D) float32."""
        parts = [np.asarray(latents[k], dtype=np.float32).reshape(len(latents[k]), -1)
                 for k in self.keys]
        return np.concatenate(parts, axis=1)

    def unpack(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat state (B, D) -> per-modality views (B, C, h, w)."""
        b = x.shape[0]
        return {k: x[:, self.slices[k]].reshape(b, *self.specs[k].latent_shape) for k in self.keys}


class JointNoiseModel:
    """``eps_fn(x, t)`` for the solver: assembles the denoiser inputs of all modalities."""

    def __init__(
        self,
        specs: Sequence[ModalitySpec],
        layout: LatentLayout,
        denoiser: Denoiser,
        conditions: Mapping[str, np.ndarray],
        *,
        other_noise: NoiseSource | None = None,
        num_train_timesteps: int = 1000,
    ) -> None:
        self.order = tuple(s.key for s in specs)
        self.specs = {s.key: s for s in specs}
        self.layout = layout
        self.denoiser = denoiser
        self.conditions = {k: np.asarray(v, dtype=np.float32) for k, v in conditions.items()}
        self.others = tuple(k for k in self.order
                            if k not in layout.keys and k not in self.conditions)
        overlap = set(layout.keys) & set(self.conditions)
        if overlap:
            raise InputError(f"modalities both conditioned and generated: {sorted(overlap)}")
        if self.others and other_noise is None:
            raise InputError(f"no noise source for the other modalities {list(self.others)}")
        self.other_noise = other_noise
        self.n_train = num_train_timesteps
        self.calls: list[dict[str, float]] = []  # timestep of row 0 per key, per call

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        b = x.shape[0]
        gen = self.layout.unpack(x)
        t_net = np.float32(t * self.n_train)
        z: dict[str, np.ndarray] = {}
        ts: dict[str, np.ndarray] = {}
        for key in self.order:
            if key in gen:
                z[key], ts[key] = gen[key], np.full((b,), t_net, dtype=np.float32)
                continue
            if key in self.conditions:
                cond = self.conditions[key]
                if cond.shape[0] != b:
                    raise InputError(f"condition {key} has batch {cond.shape[0]}, state has {b}")
                z[key] = cond
            else:
                assert self.other_noise is not None
                z[key] = self.other_noise(key, (b, *self.specs[key].latent_shape))
            ts[key] = np.zeros((b,), dtype=np.float32)
        self.calls.append({k: float(v[0]) for k, v in ts.items()})
        eps = self.denoiser(z, ts)
        return np.concatenate(
            [np.asarray(eps[k], dtype=np.float32).reshape(b, -1) for k in self.layout.keys],
            axis=1,
        )
