"""Boundary harmonisation of generated gap pixels (an engine design; not in the official code).

Latent inpainting holds whole latent cells, so the decoded sample and the observation disagree
at the gap's edge by the tokenizer's error plus whatever tone the sample drew: a visible frame
around every gap and around every footprint. Poisson image editing (Perez et al. 2003) removes
it without touching the sample's texture: each sample gets an additive offset ``d`` over its
gap pixels that is harmonic (smooth, no new detail) and equals ``observed - generated`` on the
observed pixels bordering the gap. Near observations every sample is pinned to them, so the
samples agree there and the spread grows with the distance from what was seen; far inside a
large gap the offset fades to the mean mismatch of the edge, so the model's own variety stays.

``d`` solves ``(L + screening) d = 0`` on the gap pixels with those edge values, ``L`` the
4-neighbour graph Laplacian over the footprint (edges of the footprint are free: Neumann). The
small screening term keeps the system definite where a gap touches no observation (then
``d = 0``: nothing to match). Solved by conjugate gradients, all samples and bands at once.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

#: screened-Poisson term: the offset decays over ~1/sqrt(screening) pixels (100 px here)
SCREENING = 1e-4


def _neighbour_sum(d: np.ndarray) -> np.ndarray:
    """Sum of each pixel's 4 neighbours inside the array (outside counts as 0)."""
    out = np.zeros_like(d)
    out[..., 1:, :] += d[..., :-1, :]
    out[..., :-1, :] += d[..., 1:, :]
    out[..., :, 1:] += d[..., :, :-1]
    out[..., :, :-1] += d[..., :, 1:]
    return out


def harmonic_offset(generated: np.ndarray, observed_values: np.ndarray, observed: np.ndarray,
                    *, screening: float = SCREENING, tol: float = 1e-4,
                    max_iter: int = 4000) -> np.ndarray:
    """The offset to add to ``generated`` (..., H, W) on the gap pixels (zero elsewhere).

    ``observed_values`` broadcasts against ``generated`` and is read only where ``observed``
    (H, W) is True. ``tol`` is the residual relative to the edge mismatch.
    """
    observed = np.asarray(observed, dtype=bool)
    if generated.shape[-2:] != observed.shape:
        raise InputError(f"harmonisation: mask {observed.shape} does not match the sample "
                         f"{generated.shape[-2:]}")
    gap = ~observed
    offset = np.zeros(generated.shape, dtype=np.float32)
    if not gap.any() or not observed.any():
        return offset
    zero = np.float32(0.0)
    mismatch = np.where(observed, np.asarray(observed_values, np.float32) - generated, zero)
    inside = np.ones(observed.shape, np.float32)
    # in-footprint neighbours of each pixel, screened
    degree = _neighbour_sum(inside) + np.float32(screening)

    def apply(d: np.ndarray) -> np.ndarray:
        return np.where(gap, degree * d - _neighbour_sum(d), zero)

    rhs = np.where(gap, _neighbour_sum(mismatch), zero)
    axes = (-2, -1)
    scale = np.sqrt((rhs * rhs).sum(axis=axes, keepdims=True))
    if not scale.any():
        return offset
    r = rhs.copy()
    p = r.copy()
    rr = (r * r).sum(axis=axes, keepdims=True)
    limit = (tol * scale) ** 2
    for _ in range(max_iter):
        if (rr <= limit).all():
            break
        ap = apply(p)
        pap = (p * ap).sum(axis=axes, keepdims=True)
        alpha = np.divide(rr, pap, out=np.zeros_like(rr), where=pap > 0)
        offset += alpha * p
        r -= alpha * ap
        rr_new = (r * r).sum(axis=axes, keepdims=True)
        beta = np.divide(rr_new, rr, out=np.zeros_like(rr), where=rr > 0)
        p = r + beta * p
        rr = rr_new
    return offset
