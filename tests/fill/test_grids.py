"""Raster shapes and grids: 1x1, one footprint minus/plus one pixel, non-square, a 20 m
target, an EPSG:4326 target and conditions in another CRS and resolution. Every case must
meet the same output contract (``check_gapfill``)."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS

from copgen_plugin.engine.package import load_package
from copgen_plugin.fill import run_fill
from copgen_plugin.fill.inputs import setup_condition, setup_target
from copgen_plugin.fill.reads import read_condition
from copgen_plugin.fill.request import LayerInput
from copgen_plugin.geo import Footprint, RasterGrid
from tests.fill.helpers import (
    check_gapfill,
    cloud_mask,
    read,
    request,
    smooth_s2,
    transform,
    write_tif,
)

RGBN = "B04,B03,B02,B08"  # a 4-band layer in the 10 m group's channel order


def holed(shape: tuple[int, int], gap: np.ndarray, bands: int = 4) -> np.ndarray:
    data = smooth_s2(shape, bands)
    data[:, gap] = -9999
    return data


@pytest.mark.parametrize(("h", "w"), [(1, 1), (191, 191), (193, 193), (150, 420)],
                         ids=["1x1", "footprint-1", "footprint+1", "non-square"])
def test_sizes_meet_the_output_contract(tmp_path, ten_m_package, h, w):
    gap = np.ones((1, 1), bool) if (h, w) == (1, 1) else cloud_mask((h, w), seed=h)
    target = write_tif(tmp_path / "t.tif", holed((h, w), gap), nodata=-9999,
                       descriptions=RGBN.split(","))
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3))
    check_gapfill(report, target, gap, n=3)
    assert report.working_crs == "EPSG:32632"
    # footprints are 192 px (1920 m / 10 m): one side longer than that needs a second
    expect = {(1, 1): 1, (191, 191): 1, (193, 193): 4, (150, 420): 3}[(h, w)]
    assert report.footprints_total == expect


def test_twenty_metre_target_gets_all_three_groups(tmp_path, full_package):
    shape = (130, 150)  # 2600 m x 3000 m at 20 m: 96 px footprints
    gap = cloud_mask(shape, seed=5)
    target = write_tif(tmp_path / "t20.tif", holed(shape, gap, bands=12), nodata=-9999,
                       transform_=transform(20.0))
    report = run_fill(request(target, tmp_path / "out", full_package, n=3, date=None))
    check_gapfill(report, target, gap, n=3)
    assert report.grid.startswith("150 x 130 px of 20 x 20 metre")
    assert report.footprints_total == 4
    assert report.date == "generated"
    dates = report.date_source.split("(footprint 1: ")[1].rstrip(")").split(", ")
    assert len(dates) == 3 and all(len(d) == 10 and d[4] == "-" for d in dates)
    assert "date: generated with the samples (none given or found)" in report.conditions


def test_epsg4326_target_is_worked_in_its_utm_zone(tmp_path, ten_m_package):
    wgs84 = CRS.from_epsg(4326)
    t = transform(0.0001, origin=(10.50, 45.30))  # ~8 x 11 m pixels north of Milan
    shape = (160, 230)
    gap = cloud_mask(shape, seed=9)
    target = write_tif(tmp_path / "geo.tif", holed(shape, gap), crs=wgs84, transform_=t,
                       nodata=-9999, descriptions=RGBN.split(","))
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3, overlap_m=0.0))
    assert report.working_crs == "EPSG:32632"
    check_gapfill(report, target, gap, n=3)  # outputs stay on the degree grid


def test_conditions_in_other_crs_and_resolution(tmp_path, full_package):
    shape = (160, 160)
    gap = cloud_mask(shape, seed=2)
    target = write_tif(tmp_path / "s2.tif", holed(shape, gap, bands=12), nodata=-9999)
    # DEM in degrees (~0.0003 deg, about 23 x 33 m), larger than the target
    dem = np.linspace(100, 900, 120 * 160, dtype=np.float32).reshape(1, 120, 160)
    dem_path = write_tif(tmp_path / "dem.tif", dem, crs=CRS.from_epsg(4326),
                         transform_=transform(0.0003, origin=(8.98, 45.34)))
    # S1 linear power at 20 m in the neighbouring UTM zone (33N)
    s1 = np.random.default_rng(0).uniform(0.01, 0.3, (2, 260, 260)).astype(np.float32)
    s1_path = write_tif(tmp_path / "s1.tif", s1, crs=CRS.from_epsg(32633),
                        transform_=transform(20.0, origin=(28_000.0, 5_039_500.0)))
    conds = (LayerInput(dem_path, "DEM"), LayerInput(s1_path, "S1RTC"))
    report = run_fill(request(target, tmp_path / "out", full_package, n=3, conditions=conds))
    check_gapfill(report, target, gap, n=3)
    text = " | ".join(report.conditions)
    assert "dem.tif (EPSG:4326" in text and "DEM_DEM at 30 m (bilinear)" in text
    assert "s1.tif (EPSG:32633, 20 m) -> S1RTC_vh_vv at 10 m (bilinear)" in text
    assert report.s1_scale == [
        next(s for s in report.s1_scale if s.startswith("s1.tif: linear (detected"))]
    assert not any("generated there instead" in n for n in report.notes)  # fully covered


def test_observed_pixels_stay_identical_in_float_layers(tmp_path, ten_m_package):
    shape = (120, 140)
    gap = cloud_mask(shape, seed=4)
    data = smooth_s2(shape, 4).astype(np.float32) + np.float32(0.123)
    data[:, gap] = np.nan  # NaN gaps without a nodata value
    target = write_tif(tmp_path / "f.tif", data, descriptions=RGBN.split(","))
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3))
    check_gapfill(report, target, gap, n=3)
    meta = read(report.outputs["filled"])[1]
    assert meta["dtype"] == "float32" and meta["nodata"] is None


def test_condition_with_a_void_is_filled_and_one_that_ends_is_dropped(tmp_path, full_package):
    shape = (150, 300)  # two footprints side by side (columns 0-191 and 108-299)
    gap = np.zeros(shape, bool)
    gap[50:100, 40:280] = True
    target = write_tif(tmp_path / "s2.tif", holed(shape, gap, bands=12), nodata=-9999)
    # a 30 m DEM that ends 2020 m east of the target's west edge, with a small void
    dem = np.full((1, 90, 84), 350.0, np.float32)
    dem[0, 30:33, 20:23] = -32768
    dem_path = write_tif(tmp_path / "dem.tif", dem, nodata=-32768,
                         transform_=transform(30.0, origin=(499_500.0, 5_020_700.0)))
    report = run_fill(request(target, tmp_path / "out", full_package, n=3,
                              conditions=[LayerInput(dem_path, "DEM")]))
    check_gapfill(report, target, gap, n=3)
    assert report.footprints_run == 2
    assert "DEM_DEM: condition holes filled in 1 footprint(s) (at least 90 % covered)" \
        in report.notes
    assert "DEM_DEM: condition covers under 90 % of 1 footprint(s); generated there instead " \
           "of conditioning" in report.notes
    # the void itself: filled from its neighbours (GDAL inverse distance), not with nodata
    package = load_package(full_package)
    req = request(target, tmp_path / "out2", full_package)
    cond, _ = setup_condition(LayerInput(dem_path, "DEM"), package, setup_target(req, package))
    fp = Footprint.on_grid(RasterGrid.from_path(target), row_off=-21, col_off=0,
                           footprint_m=1920.0)
    got = read_condition(cond, fp)
    assert got.filled_holes == ("DEM_DEM",) and got.dropped == ()
    np.testing.assert_allclose(got.values["DEM_DEM"], 350.0)
