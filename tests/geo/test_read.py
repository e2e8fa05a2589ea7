"""Reading modalities onto native grids (any CRS/resolution) and the target window."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from copgen_plugin.geo import (
    Footprint,
    GapReader,
    RasterGrid,
    db_to_linear,
    read_modality,
    read_target_window,
    resampling_method,
)
from tests.geo.helpers import ORIGIN, UTM32N, north_up, utm_grid_transform, write_tif

F = 1920.0


def field(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """A linear ramp in UTM 32N metres: the value at any ground point is known exactly."""
    return 0.5 * (e - ORIGIN[0]) + 0.25 * (n - (ORIGIN[1] - 2000.0))


def native_centres(fp: Footprint, px: float) -> tuple[np.ndarray, np.ndarray]:
    n = fp.native_size(px)
    t = fp.native_transform(px)
    e = t.c + (np.arange(n) + 0.5) * px
    nn = t.f - (np.arange(n) + 0.5) * px
    return np.meshgrid(e, nn)


def ramp_raster(path, crs: CRS, res: float, margin: float = 600.0):
    """A raster in ``crs`` at ``res`` holding ``field`` at each pixel centre, covering the
    footprint at ORIGIN plus a margin."""
    b = transform_bounds(UTM32N, crs, ORIGIN[0] - margin, ORIGIN[1] - F - margin,
                         ORIGIN[0] + F + margin, ORIGIN[1] + margin)
    w = int(np.ceil((b[2] - b[0]) / res))
    h = int(np.ceil((b[3] - b[1]) / res))
    t = north_up(b[0], b[3], res)
    xs = t.c + (np.arange(w) + 0.5) * res
    ys = t.f - (np.arange(h) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    ue, un = warp_transform(crs, UTM32N, gx.ravel(), gy.ravel())
    vals = field(np.array(ue), np.array(un)).reshape(h, w).astype(np.float32)
    return write_tif(path, vals, crs=crs, transform=t)


@pytest.fixture
def fp10() -> Footprint:
    g = RasterGrid(UTM32N, utm_grid_transform(), 300, 300)
    return Footprint.on_grid(g, row_off=0, col_off=0, footprint_m=F)


def test_aligned_read_is_bit_exact(tmp_path, fp10):
    rng = np.random.default_rng(1)
    data = rng.integers(-500, 12000, (12, 300, 300)).astype(np.int16)
    path = write_tif(tmp_path / "s2.tif", data)
    fp = Footprint.on_grid(RasterGrid.from_path(path), row_off=40, col_off=70, footprint_m=F)
    r = read_modality(path, [4, 3, 2, 8], fp, pixel_size_m=10.0, resampling="bilinear")
    assert r.data.shape == (4, 192, 192) and r.data.dtype == np.float32
    np.testing.assert_array_equal(r.data, data[[3, 2, 1, 7], 40:232, 70:262].astype(np.float32))
    assert r.valid.all()
    assert r.transform == fp.native_transform(10.0) and r.crs == UTM32N


def test_twenty_and_sixty_metre_groups_average_the_ten_metre_pixels(tmp_path, fp10):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 10000, (2, 300, 300)).astype(np.int16)
    path = write_tif(tmp_path / "s2.tif", data)
    r20 = read_modality(path, [1, 2], fp10, pixel_size_m=20.0, resampling="average")
    assert r20.data.shape == (2, 96, 96)
    want = data[:, :192, :192].astype(np.float64).reshape(2, 96, 2, 96, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(r20.data, want, rtol=1e-5)
    r60 = read_modality(path, [2], fp10, pixel_size_m=60.0, resampling="average")
    want = data[1, :192, :192].astype(np.float64).reshape(32, 6, 32, 6).mean(axis=(1, 3))
    np.testing.assert_allclose(r60.data[0], want, rtol=1e-5)
    assert r60.valid.all()


@pytest.mark.parametrize(("epsg", "res"), [(32633, 25.0), (3857, 25.0), (4326, 0.0003)])
def test_condition_in_another_crs_and_resolution_lands_where_expected(tmp_path, fp10, epsg, res):
    path = ramp_raster(tmp_path / "cond.tif", CRS.from_epsg(epsg), res)
    # The ramp rises 0.5 per metre east and 0.25 north, so a value error of 0.05 means the
    # 10 m pixels sit within 0.1 m of where they belong; one 25 m pixel off would be 12.5.
    e, n = native_centres(fp10, 10.0)
    for method in ("bilinear", "cubic"):
        r = read_modality(path, [1], fp10, pixel_size_m=10.0, resampling=method)
        assert r.valid.all()
        np.testing.assert_allclose(r.data[0], field(e, n), atol=0.05)
    # Aggregating to 30 m: discrete anti-aliasing kernels shift a ramp by < 0.1 pixel (1.5).
    e, n = native_centres(fp10, 30.0)
    for method in ("bilinear", "average"):
        r = read_modality(path, [1], fp10, pixel_size_m=30.0, resampling=method)
        assert r.data.shape == (1, 64, 64) and r.valid.all()
        np.testing.assert_allclose(r.data[0], field(e, n), atol=1.5)


def test_nodata_is_invalid_and_never_blended(tmp_path, fp10):
    data = np.full((1, 300, 300), 100.0, np.float32)
    data[0, 50:100, 60:120] = -9999.0
    path = write_tif(tmp_path / "dem.tif", data, nodata=-9999.0)
    r = read_modality(path, [1], fp10, pixel_size_m=10.0, resampling="bilinear")
    assert not r.valid[50:100, 60:120].any() and r.valid.sum() == 192 * 192 - 50 * 60
    assert np.isnan(r.data[0, 50:100, 60:120]).all()
    np.testing.assert_array_equal(r.data[0][r.valid], 100.0)
    r30 = read_modality(path, [1], fp10, pixel_size_m=30.0, resampling="bilinear")
    assert np.nanmax(r30.data) == pytest.approx(100.0) and np.nanmin(r30.data) == 100.0
    # 30 m pixels at rows/cols 16..33 x 20..40 hold 10 m nodata: fully inside -> invalid
    assert not r30.valid[17:33, 20:40].any()
    assert r30.valid[:16].all() and r30.valid[34:].all()
    strict = read_modality(path, [1], fp10, pixel_size_m=30.0, resampling="bilinear",
                           min_valid_fraction=1.0)
    assert strict.valid.sum() <= r30.valid.sum()


def test_source_nodata_override_and_pixels_outside_the_source(tmp_path, fp10):
    data = np.full((1, 100, 150), 5, np.uint8)
    data[0, :10, :10] = 0
    path = write_tif(tmp_path / "lulc.tif", data)  # no nodata in the file: covers 100 x 150 px
    r = read_modality(path, [1], fp10, pixel_size_m=10.0, resampling="nearest")
    assert r.valid[:100, :150].all() and not r.valid[100:].any() and not r.valid[:, 150:].any()
    r = read_modality(path, [1], fp10, pixel_size_m=10.0, resampling="nearest", src_nodata=0)
    assert not r.valid[:10, :10].any() and r.valid[10:100, 10:150].all()
    # a reprojected read does not smear edge pixels outside the source
    r = read_modality(path, [1], fp10, pixel_size_m=30.0, resampling="mode")
    assert r.valid[:33, :50].all() and not r.valid[34:].any() and not r.valid[:, 50:].any()


def test_footprint_beyond_the_source_reads_as_invalid(tmp_path):
    path = write_tif(tmp_path / "a.tif", np.ones((1, 1, 1), np.int16))
    g = RasterGrid.from_path(path)
    fp = Footprint.on_grid(g, row_off=-96, col_off=-96, footprint_m=F)
    r = read_modality(path, [1], fp, pixel_size_m=10.0, resampling="bilinear")
    assert r.valid.sum() == 1 and r.valid[96, 96] and r.data[0, 96, 96] == 1
    far = Footprint.on_grid(g, row_off=5000, col_off=5000, footprint_m=F)
    r = read_modality(path, [1], far, pixel_size_m=60.0, resampling="bilinear")
    assert r.data.shape == (1, 32, 32) and not r.valid.any()


def test_classes_keep_their_codes(tmp_path, fp10):
    codes = np.zeros((300, 300), np.uint8)
    codes[:, :150] = 2
    codes[:, 150:] = 5
    codes[100:103, 0:3] = 9  # one 30 m block with a different majority
    path = write_tif(tmp_path / "lulc.tif", codes)
    r = read_modality(path, [1], fp10, pixel_size_m=30.0, resampling="mode")
    assert set(np.unique(r.data)) <= {2.0, 5.0, 9.0}
    assert r.data[0, 0, 0] == 2 and r.data[0, 0, 60] == 5
    r = read_modality(path, [1], fp10, pixel_size_m=10.0, resampling="nearest")
    np.testing.assert_array_equal(r.data[0], codes[:192, :192])


def test_value_transform_is_applied_before_resampling(tmp_path, fp10):
    db = np.full((2, 300, 300), -10.0, np.float64)
    db[:, :, 1::2] = -20.0
    path = write_tif(tmp_path / "s1.tif", db)
    r = read_modality(path, [1, 2], fp10, pixel_size_m=20.0, resampling="average",
                      value_transform=db_to_linear)
    # averaged in power: (0.1 + 0.01) / 2, not 10^(-15/10)
    np.testing.assert_allclose(r.data, 0.055, rtol=1e-5)


def test_unknown_bands_and_resampling_are_clear_errors(tmp_path, fp10):
    path = write_tif(tmp_path / "a.tif", np.zeros((2, 10, 10), np.int16))
    with pytest.raises(ValueError, match="2 band"):
        read_modality(path, [3], fp10, pixel_size_m=10.0, resampling="bilinear")
    with pytest.raises(ValueError, match="unknown resampling"):
        resampling_method("lanczos9")


def test_target_window_bit_exact_with_gaps_and_outside(tmp_path):
    rng = np.random.default_rng(4)
    data = rng.integers(-100, 30000, (3, 50, 60)).astype(np.int16)
    data[1, 5, 7] = -32768
    path = write_tif(tmp_path / "t.tif", data, nodata=-32768)
    win = Window(-10, -5, 40, 30)
    tw = read_target_window(path, [1, 2, 3], win)
    assert tw.data.dtype == np.int16 and tw.data.shape == (3, 30, 40)
    np.testing.assert_array_equal(tw.data[:, 5:, 10:], data[:, :25, :30])
    assert not tw.inside[:5].any() and not tw.inside[:, :10].any() and tw.inside[5:, 10:].all()
    assert (tw.data[:, :5] == -32768).all()
    assert not tw.valid[1, 10, 17] and tw.valid[0, 10, 17]
    assert tw.gap[10, 17] and tw.gap.sum() == 1
    assert not tw.observed[:5].any()


def test_target_nodata_override_and_float_nan(tmp_path):
    data = np.ones((1, 4, 4), np.float32)
    data[0, 0, 0] = np.nan
    data[0, 1, 1] = 0.0
    path = write_tif(tmp_path / "f.tif", data)
    tw = read_target_window(path, [1], Window(0, 0, 4, 4))
    assert tw.gap.sum() == 1 and tw.gap[0, 0]
    tw = read_target_window(path, [1], Window(0, 0, 4, 4), nodata=0.0)
    assert tw.gap[0, 0] and tw.gap[1, 1] and tw.gap.sum() == 2


def test_mask_raster_on_the_same_and_on_another_grid(tmp_path):
    data = np.full((1, 40, 40), 3, np.uint16)
    path = write_tif(tmp_path / "t.tif", data)
    same = np.zeros((40, 40), np.uint8)
    same[10:12, 20:25] = 1
    mpath = write_tif(tmp_path / "m.tif", same)
    tw = read_target_window(path, [1], Window(0, 0, 40, 40), mask_path=mpath)
    np.testing.assert_array_equal(tw.gap, same != 0)
    # a 20 m mask, shifted 100 m east, with its own nodata (255): nodata says nothing
    coarse = np.zeros((20, 20), np.uint8)
    coarse[2, 3] = 7
    coarse[5, 5] = 255
    cpath = write_tif(tmp_path / "c.tif", coarse, nodata=255,
                      transform=north_up(ORIGIN[0] + 100, ORIGIN[1], 20.0))
    tw = read_target_window(path, [1], Window(0, 0, 40, 40), mask_path=cpath)
    want = np.zeros((40, 40), bool)
    want[4:6, 16:18] = True  # 20 m pixel (2, 3) -> rows 4-5, cols 10 + 6..7
    np.testing.assert_array_equal(tw.gap, want)
    assert (tw.data == 3).all()  # the mask never changes the values
    reader = GapReader(path, bands=(1,), mask_path=cpath)
    np.testing.assert_array_equal(reader(Window(0, 0, 40, 40)), want)
    np.testing.assert_array_equal(reader(Window(0, 4, 40, 2)), want[4:6])
