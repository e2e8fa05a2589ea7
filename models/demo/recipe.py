"""The demo training recipe's departures from the official one (see ``train.py``'s docstring):
which modalities a sample holds clean, the weighted loss, the ground-aligned position codes.
"""

from __future__ import annotations

import numpy as np
import torch

from models.configs import BackboneConfig


def spatial_pos_embed(bcfg: BackboneConfig) -> torch.Tensor:
    """(1, tokens, D): zeros for the timestep tokens, 2-D sin-cos of the token centre for the
    patch tokens, in units of the finest token grid, so a DEM token and the S2 tokens over the
    same ground start with similar codes (the learned parameter is only initialised)."""
    d = bcfg.embed_dim
    quarter = d // 4
    omega = 1.0 / 10000.0 ** (np.arange(quarter) / quarter)
    finest = max(h // p for _, _, h, _, p in bcfg.modalities)
    rows = [np.zeros((len(bcfg.modalities), d))]
    for _, _, h, w, p in bcfg.modalities:
        gh, gw = h // p, w // p
        yy, xx = np.meshgrid((np.arange(gh) + 0.5) * finest / gh,
                             (np.arange(gw) + 0.5) * finest / gw, indexing="ij")
        code = np.zeros((gh * gw, d))
        for i, pos in enumerate((yy.ravel(), xx.ravel())):
            ang = np.outer(pos, omega)
            code[:, 2 * i * quarter:(2 * i + 1) * quarter] = np.sin(ang)
            code[:, (2 * i + 1) * quarter:(2 * i + 2) * quarter] = np.cos(ang)
        rows.append(code)
    return torch.from_numpy(np.concatenate(rows)[None]).float()


def noisy_modalities(rng: np.random.Generator, batch: int, count: int, clean_frac: float
                     ) -> np.ndarray:
    """(batch, count) int64, 1 where a modality is noised this step, 0 where held clean.

    A ``clean_frac`` share of the samples noises a random subset of k in 1..count modalities
    (k uniform) and holds the rest clean, so the network sees every "these are given,
    generate those" task of inference; the others follow the official recipe (all noised).
    """
    noisy = np.ones((batch, count), np.int64)
    for row in np.flatnonzero(rng.random(batch) < clean_frac):
        k = int(rng.integers(1, count + 1))
        noisy[row] = 0
        noisy[row, rng.choice(count, k, replace=False)] = 1
    return noisy


def masked_mse(pred: torch.Tensor, eps: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted eps MSE over the samples where this modality was noised (weight 0 = clean)."""
    per_sample = torch.mean((pred - eps) ** 2, dim=tuple(range(1, pred.dim())))
    count = (weight > 0).sum().clamp(min=1)
    return (per_sample * weight.to(per_sample.dtype)).sum() / count
