"""Boundary harmonisation: a smooth offset over the gap that meets the observation at its edge."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.harmonise import harmonic_offset
from copgen_plugin.errors import InputError


def _gap_mask(h: int = 40, w: int = 48) -> np.ndarray:
    observed = np.ones((h, w), bool)
    observed[8:30, 10:48] = False  # touches the right edge of the footprint (free there)
    observed[20:24, 4:10] = False
    return observed


def test_a_constant_mismatch_becomes_the_same_constant_offset() -> None:
    observed = _gap_mask()
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(3, 2, *observed.shape)).astype(np.float32)
    off = harmonic_offset(sample, sample + np.float32(0.3), observed)
    assert off.shape == sample.shape and off.dtype == np.float32
    assert (off[:, :, observed] == 0).all()
    np.testing.assert_allclose(off[:, :, ~observed], 0.3, atol=0.006)  # the screening decay


def test_the_offset_solves_the_screened_laplace_equation_with_the_edge_values() -> None:
    observed = _gap_mask()
    rng = np.random.default_rng(1)
    sample = rng.normal(size=(2, 1, *observed.shape)).astype(np.float32)
    target = rng.normal(size=(1, 1, *observed.shape)).astype(np.float32)  # broadcasts
    off = harmonic_offset(sample, target, observed, tol=1e-6).astype(np.float64)
    d = np.where(observed, target - sample, off)  # the edge values outside the gap
    padded = np.pad(d, ((0, 0), (0, 0), (1, 1), (1, 1)))
    inside = np.pad(np.ones(observed.shape), 1)
    neighbours = (padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1] + padded[..., 1:-1, :-2]
                  + padded[..., 1:-1, 2:])
    degree = inside[:-2, 1:-1] + inside[2:, 1:-1] + inside[1:-1, :-2] + inside[1:-1, 2:]
    residual = (degree + 1e-4) * d - neighbours
    assert np.abs(residual[:, :, ~observed]).max() < 1e-3


def test_nothing_to_match_gives_no_offset() -> None:
    sample = np.ones((1, 1, 6, 6), np.float32)
    assert not harmonic_offset(sample, sample * 2, np.zeros((6, 6), bool)).any()  # all gap
    assert not harmonic_offset(sample, sample * 2, np.ones((6, 6), bool)).any()  # no gap
    observed = np.ones((6, 6), bool)
    observed[2:4, 2:4] = False
    assert not harmonic_offset(sample, sample, observed).any()  # already matches


def test_a_mask_of_another_size_is_refused() -> None:
    with pytest.raises(InputError, match="does not match"):
        harmonic_offset(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 4, 4)),
                        np.ones((4, 5), bool))
