"""Spread statistics against numpy on stored arrays (the kit's backbone outputs as samples)."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.spread import OnlineSpread, categorical_spread, compute_spread
from copgen_plugin.errors import InputError


@pytest.fixture(scope="module")
def stored(cases) -> np.ndarray:
    """Six (8, 24, 24) arrays: the official backbone's LULC outputs of the three patterns."""
    return np.concatenate([cases[f"backbone__eps__p{k}__LULC_LULC"] for k in range(3)])


def test_statistics_match_numpy(stored):
    s = compute_spread(stored)
    assert s.count == 6
    for got, want in [(s.mean, stored.mean(0)), (s.std, stored.std(0, ddof=1)),
                      (s.minimum, stored.min(0)), (s.maximum, stored.max(0)),
                      (s.range, np.ptp(stored, axis=0)),
                      (s.iqr, np.subtract(*np.percentile(stored, [75, 25], axis=0)))]:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    population = compute_spread(stored, ddof=0)
    np.testing.assert_allclose(population.std, stored.std(0), rtol=1e-5, atol=1e-6)


def test_online_welford_is_stable_for_large_offsets(stored):
    shifted = stored.astype(np.float64) + 1e4  # DN-sized values
    acc = OnlineSpread(stored.shape[1:])
    for sample in shifted:
        acc.update(sample)
    np.testing.assert_allclose(acc.result().std, stored.std(0, ddof=1), rtol=1e-3, atol=1e-3)


def test_statistics_only_where_generated(stored):
    generated = np.zeros((24, 24), bool)
    generated[5:10, 3:20] = True
    s = compute_spread(stored, generated=generated, nodata=-9999.0)
    assert (s.std[:, ~generated] == -9999.0).all() and (s.iqr[:, ~generated] == -9999.0).all()
    np.testing.assert_allclose(s.mean[:, generated], stored.mean(0)[:, generated], rtol=1e-5,
                               atol=1e-6)
    nan = compute_spread(stored, generated=generated)
    assert np.isnan(nan.mean[:, ~generated]).all() and np.isfinite(nan.mean[:, generated]).all()


def test_single_sample_has_zero_spread(stored):
    s = compute_spread(stored[:1])
    assert s.count == 1 and not s.std.any() and not s.iqr.any()


def test_shape_mismatch_is_an_input_error(stored):
    acc = OnlineSpread((8, 24, 24))
    with pytest.raises(InputError):
        acc.update(stored[0, :4])


def test_categorical_mode_and_agreement():
    rng = np.random.default_rng(5)
    codes = rng.choice([1, 2, 5, 11], size=(7, 1, 6, 6))
    codes[:, 0, 0, 0] = [2, 2, 1, 1, 5, 5, 11]  # a three-way tie -> smallest code
    result = categorical_spread(codes)
    for y in range(6):
        for x in range(6):
            values, counts = np.unique(codes[:, 0, y, x], return_counts=True)
            assert result.mode[0, y, x] == values[np.argmax(counts)]
            assert result.agreement[0, y, x] == pytest.approx(counts.max() / 7)
    assert result.mode[0, 0, 0] == 1
