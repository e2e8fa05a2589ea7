"""Generated footprints back onto the target grid: exact crop, 20 m target, EPSG:4326 target."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from copgen_plugin.geo import (
    Footprint,
    RasterGrid,
    default_resampling,
    plan_footprints,
    to_target_grid,
)
from tests.geo.helpers import UTM32N, north_up, utm_grid_transform

F = 1920.0
WGS84 = CRS.from_epsg(4326)


def ramp_on_native(fp: Footprint, px: float) -> np.ndarray:
    """(1, n, n): 0.5 per metre east + 0.25 per metre north of the working CRS, at centres."""
    n = fp.native_size(px)
    t = fp.native_transform(px)
    e = t.c + (np.arange(n) + 0.5) * px
    nn = t.f - (np.arange(n) + 0.5) * px
    ge, gn = np.meshgrid(e - fp.bounds[0], nn - fp.bounds[1])
    return (0.5 * ge + 0.25 * gn)[None].astype(np.float32)


def test_aligned_ten_metre_write_back_is_an_exact_crop():
    g = RasterGrid(UTM32N, utm_grid_transform(), 300, 250)
    plan = plan_footprints(g, np.ones(g.shape, bool), footprint_m=F)
    rng = np.random.default_rng(5)
    for fp in plan:
        gen = rng.normal(size=(4, 192, 192)).astype(np.float32)
        patch = to_target_grid(gen, fp, g, pixel_size_m=10.0, resampling="bilinear")
        assert patch.window == fp.window
        np.testing.assert_array_equal(patch.data, gen)
        assert patch.covered.all()


def test_sixty_metre_group_onto_a_ten_metre_target():
    g = RasterGrid(UTM32N, utm_grid_transform(), 192, 192)
    fp = plan_footprints(g, np.ones(g.shape, bool), footprint_m=F)[0]
    patch = to_target_grid(ramp_on_native(fp, 60.0), fp, g, pixel_size_m=60.0,
                           resampling="bilinear")
    want = ramp_on_native(fp, 10.0)
    assert patch.covered.all()
    # bilinear reproduces the ramp inside; within half a 60 m pixel of the edge it is flat
    np.testing.assert_allclose(patch.data[:, 3:-3, 3:-3], want[:, 3:-3, 3:-3], atol=1e-2)


def test_twenty_metre_target_gets_ten_metre_groups_averaged():
    g = RasterGrid(UTM32N, utm_grid_transform(20.0), 100, 130)
    fp = plan_footprints(g, np.ones(g.shape, bool), footprint_m=F)[1]
    rng = np.random.default_rng(6)
    gen10 = rng.uniform(0, 1000, (4, 192, 192)).astype(np.float32)
    method = default_resampling(from_m=10.0, to_m=20.0, categorical=False)
    assert method == "average"
    patch = to_target_grid(gen10, fp, g, pixel_size_m=10.0, resampling=method)
    assert patch.data.shape == (4, 96, 96) and patch.covered.all()
    want = gen10.astype(np.float64).reshape(4, 96, 2, 96, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(patch.data, want, rtol=1e-5)
    gen20 = rng.uniform(0, 1000, (6, 96, 96)).astype(np.float32)
    np.testing.assert_array_equal(
        to_target_grid(gen20, fp, g, pixel_size_m=20.0, resampling="bilinear").data, gen20)


def test_epsg4326_target_receives_values_at_the_right_ground_points():
    g = RasterGrid(WGS84, north_up(10.50, 45.30, 0.0001), 500, 400)
    plan = plan_footprints(g, np.ones(g.shape, bool), footprint_m=F)
    fp = plan[len(plan) // 2]
    patch = to_target_grid(ramp_on_native(fp, 10.0), fp, g, pixel_size_m=10.0,
                           resampling="bilinear")
    np.testing.assert_array_equal(patch.covered, fp.coverage(g))
    assert np.isnan(patch.data[0][~patch.covered]).all()
    t = g.window_transform(fp.window)
    rows, cols = np.nonzero(patch.covered)
    lon = t.c + (cols + 0.5) * t.a
    lat = t.f + (rows + 0.5) * t.e
    ue, un = warp_transform(WGS84, fp.crs, lon, lat)
    want = 0.5 * (np.array(ue) - fp.bounds[0]) + 0.25 * (np.array(un) - fp.bounds[1])
    inner = (np.array(ue) > fp.bounds[0] + 10) & (np.array(ue) < fp.bounds[2] - 10)
    inner &= (np.array(un) > fp.bounds[1] + 10) & (np.array(un) < fp.bounds[3] - 10)
    got = patch.data[0, rows, cols]
    # 11 m target rows aggregate 10 m rows: the widened kernel shifts a ramp < 0.6 m (0.3)
    np.testing.assert_allclose(got[inner], want[inner], atol=0.3)
    assert np.isfinite(got).all()  # edge pixels too


def test_categorical_defaults_and_window_override():
    assert default_resampling(from_m=10, to_m=30, categorical=True) == "mode"
    assert default_resampling(from_m=30, to_m=10, categorical=True) == "nearest"
    assert default_resampling(from_m=60, to_m=10, categorical=False) == "bilinear"
    g = RasterGrid(UTM32N, utm_grid_transform(), 300, 300)
    fp = Footprint.on_grid(g, row_off=10, col_off=20, footprint_m=F)
    gen = np.arange(192 * 192, dtype=np.float32).reshape(1, 192, 192)
    patch = to_target_grid(gen, fp, g, pixel_size_m=10.0, resampling="nearest",
                           window=Window(0, 0, 50, 50))
    assert not patch.covered[:10].any() and not patch.covered[:, :20].any()
    np.testing.assert_array_equal(patch.data[0, 10:, 20:], gen[0, :40, :30])
    with pytest.raises(ValueError, match="C, h, w"):
        to_target_grid(gen[0], fp, g, pixel_size_m=10.0, resampling="nearest")
