"""Spread statistics against numpy on stored arrays (the kit's backbone outputs as samples)."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.spread import sample_statistics
from copgen_plugin.errors import InputError


@pytest.fixture(scope="module")
def stored(cases) -> np.ndarray:
    """Six (8, 24, 24) arrays: the official backbone's LULC outputs of the three patterns."""
    return np.concatenate([cases[f"backbone__eps__p{k}__LULC_LULC"] for k in range(3)])


@pytest.mark.parametrize(("statistic", "want"), [
    ("std", lambda x: x.std(0, ddof=1)),
    ("range", lambda x: np.ptp(x, axis=0)),
    ("iqr", lambda x: np.subtract(*np.percentile(x, [75, 25], axis=0))),
])
def test_statistics_match_numpy(stored, statistic, want):
    mean, spread = sample_statistics(stored, statistic=statistic, categorical=False)
    assert mean.dtype == np.float64 and spread.dtype == np.float32
    assert spread.shape == stored.shape[1:]
    np.testing.assert_allclose(mean, stored.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(spread, want(stored.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_large_offsets_do_not_change_the_spread(stored):
    shifted = stored.astype(np.float64) + 1e4  # DN-sized values
    _, spread = sample_statistics(shifted, statistic="std", categorical=False)
    np.testing.assert_allclose(spread, stored.std(0, ddof=1), rtol=1e-3, atol=1e-3)


def test_single_sample_has_zero_spread(stored):
    for statistic in ("std", "range", "iqr"):
        _, spread = sample_statistics(stored[:1], statistic=statistic, categorical=False)
        assert not spread.any()


def test_unknown_statistic_is_an_input_error(stored):
    with pytest.raises(InputError, match="unknown spread statistic 'var'"):
        sample_statistics(stored, statistic="var", categorical=False)


def test_categorical_mode_and_disagreement():
    rng = np.random.default_rng(5)
    codes = rng.choice([1, 2, 5, 11], size=(7, 1, 6, 6)).astype(np.uint8)
    codes[:, 0, 0, 0] = [2, 2, 1, 1, 5, 5, 11]  # a three-way tie -> smallest code
    mode, disagree = sample_statistics(codes, statistic="std", categorical=True)
    assert mode.dtype == np.uint8 and disagree.dtype == np.float32
    for y in range(6):
        for x in range(6):
            values, counts = np.unique(codes[:, 0, y, x], return_counts=True)
            assert mode[0, y, x] == values[np.argmax(counts)]
            assert disagree[0, y, x] == pytest.approx(1 - counts.max() / 7)
    assert mode[0, 0, 0] == 1
