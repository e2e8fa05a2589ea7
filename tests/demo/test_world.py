"""The synthetic world: deterministic from a seed and physically sane."""

from __future__ import annotations

import numpy as np
import pytest

from models.demo import world as w


@pytest.fixture(scope="module")
def scenes() -> list[w.Scene]:
    return [w.generate_scene(seed, 96) for seed in range(12)]


def test_deterministic_from_seed() -> None:
    a, b = w.generate_scene(5), w.generate_scene(5)
    for name in ("elevation", "dem", "lulc", "s2", "s1"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.params == b.params
    c = w.generate_scene(6)
    assert not np.array_equal(a.s2, c.s2)


def test_streams_redraw_only_their_part() -> None:
    """Re-seeding ``optical`` gives another S2 of the same ground; DEM, LULC, S1 unchanged."""
    a = w.generate_scene(3)
    b = w.generate_scene(3, overrides={"optical": 99})
    np.testing.assert_array_equal(a.dem, b.dem)
    np.testing.assert_array_equal(a.lulc, b.lulc)
    np.testing.assert_array_equal(a.s1, b.s1)
    assert not np.array_equal(a.s2, b.s2)
    c = w.generate_scene(3, overrides={"cover": 7})
    np.testing.assert_array_equal(a.dem, c.dem)
    assert not np.array_equal(a.lulc, c.lulc)


def test_shapes_units_and_ranges(scenes: list[w.Scene]) -> None:
    for s in scenes:
        assert s.dem.shape == (32, 32) and s.dem.dtype == np.float32
        assert s.lulc.shape == (96, 96) and s.s2.shape == (4, 96, 96) and s.s1.shape == (2, 96, 96)
        assert s.s2.dtype == np.uint16 and s.s2.min() >= 1 and s.s2.max() <= 10000
        assert s.dem.min() > 0 and s.dem.max() < 2000  # metres
        assert set(np.unique(s.lulc)) <= set(w.CLASS_CODES)
        db = 10 * np.log10(s.s1)
        assert np.isfinite(db).all() and -45 < np.median(db) < 5
        np.testing.assert_allclose(s.dem, w.block_mean(s.elevation, 3), rtol=1e-5)
    classes = set().union(*(np.unique(s.lulc).tolist() for s in scenes))
    assert classes == set(w.CLASS_CODES)


def test_class_dependent_spectra(scenes: list[w.Scene]) -> None:
    """Water is dark in NIR and low in VV; vegetation has a high NIR/red ratio; built is bright."""
    s2 = np.concatenate([s.s2.reshape(4, -1) for s in scenes], axis=1).astype(float)
    s1 = np.concatenate([s.s1.reshape(2, -1) for s in scenes], axis=1)
    lulc = np.concatenate([s.lulc.ravel() for s in scenes])
    red, nir = s2[0], s2[3]
    ndvi = (nir - red) / (nir + red)
    med = {c: np.median(ndvi[lulc == c]) for c in w.CLASS_CODES}
    assert med[w.WATER] < 0 < med[w.BARE] < med[w.TREES]
    assert np.median(nir[lulc == w.WATER]) < 0.5 * np.median(nir[lulc == w.TREES])
    vv = {c: np.median(10 * np.log10(s1[0][lulc == c])) for c in w.CLASS_CODES}
    assert vv[w.WATER] < vv[w.BARE] < vv[w.TREES] < vv[w.BUILT]
    assert (s1[1] < s1[0]).mean() > 0.8  # cross-pol weaker than co-pol


def test_shading_follows_the_sun() -> None:
    """An east-facing slope is brighter with the sun in the east than in the west."""
    x = np.arange(60, dtype=np.float32) * w.PIXEL_M
    elevation = np.tile(500.0 - 0.3 * x, (60, 1))  # falls towards the east: faces east
    east = w.illumination(elevation, 90.0, 40.0, diffuse=0.2)
    west = w.illumination(elevation, 270.0, 40.0, diffuse=0.2)
    flat = w.illumination(np.full((60, 60), 500.0, np.float32), 90.0, 40.0, diffuse=0.2)
    assert east.mean() > 1.2 > 1.0 > west.mean()
    np.testing.assert_allclose(flat, 1.0, atol=1e-5)


def test_speckle_statistics() -> None:
    """Flat, uniform ground: the ratio to the class mean is gamma with mean 1, var 1/looks."""
    p = w.draw_params(np.random.default_rng(0))
    elevation = np.full((300, 300), 100.0, np.float32)
    lulc = np.full((300, 300), w.BARE, np.uint8)
    s1 = w.make_s1(np.random.default_rng(1), p, elevation, lulc, np.zeros_like(elevation))
    ratio = s1[0] / np.mean(s1[0])
    assert abs(ratio.mean() - 1.0) < 1e-6
    assert ratio.var() == pytest.approx(1.0 / w.S1_LOOKS, rel=0.05)
    expected_db = -13.5 + p.wetness_db
    assert 10 * np.log10(s1[0].mean()) == pytest.approx(expected_db, abs=0.1)


def test_scene_size_must_nest_the_dem_grid() -> None:
    with pytest.raises(ValueError, match="multiple of 3"):
        w.generate_scene(0, 95)
    s = w.generate_scene(0, 48, 72)
    assert s.s2.shape == (4, 48, 72) and s.dem.shape == (16, 24)
