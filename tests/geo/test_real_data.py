"""The real co-registered TerraMesh rasters (../shared/data; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from copgen_plugin.geo import (
    Footprint,
    RasterGrid,
    band_layout,
    db_to_linear,
    group_bands,
    plan_footprints,
    read_modality,
    read_target_window,
    s1_scale_of_layer,
    working_crs,
)
from tests.geo.helpers import TERRAMESH, need_terramesh

F = 1920.0
L2A_GROUPS = {  # as the manifest lists them: key -> bands in channel order
    "S2L2A_B02_B03_B04_B08": (["B04", "B03", "B02", "B08"], 10.0),
    "S2L2A_B05_B06_B07_B11_B12_B8A": (["B05", "B06", "B07", "B8A", "B11", "B12"], 20.0),
    "S2L2A_B01_B09": (["B01", "B09"], 60.0),
}
C = slice(16, 208)  # the 192 px centre crop of a 224 px cell


def file_bands(path, bands):
    with rasterio.open(path) as ds:
        return ds.read(bands).astype(np.float64)


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    c, h, w = a.shape
    return a.reshape(c, h // f, f, w // f, f).mean(axis=(2, 4))


@pytest.fixture
def cell():
    return need_terramesh()


@pytest.fixture
def centre(cell) -> Footprint:
    grid = RasterGrid.from_path(cell / "S2L2A.tif")
    return Footprint.on_grid(grid, row_off=16, col_off=16, footprint_m=F)


def test_s2l2a_centre_footprint_into_its_three_groups(cell, centre):
    path = cell / "S2L2A.tif"
    layout = band_layout("S2L2A", 12)
    idx = group_bands(layout, {k: v[0] for k, v in L2A_GROUPS.items()})
    assert idx["S2L2A_B02_B03_B04_B08"] == [4, 3, 2, 8]
    reads = {k: read_modality(path, idx[k], centre, pixel_size_m=px, resampling="average")
             for k, (_, px) in L2A_GROUPS.items()}
    ten = reads["S2L2A_B02_B03_B04_B08"]
    assert ten.data.shape == (4, 192, 192) and ten.valid.all()
    crop = file_bands(path, [4, 3, 2, 8])[:, C, C]
    np.testing.assert_array_equal(ten.data, crop.astype(np.float32))  # grids align: exact
    twenty = reads["S2L2A_B05_B06_B07_B11_B12_B8A"]
    assert twenty.data.shape == (6, 96, 96) and twenty.valid.all()
    np.testing.assert_allclose(twenty.data, block_mean(file_bands(path, idx[
        "S2L2A_B05_B06_B07_B11_B12_B8A"])[:, C, C], 2), rtol=1e-5)
    sixty = reads["S2L2A_B01_B09"]
    assert sixty.data.shape == (2, 32, 32) and sixty.valid.all()
    np.testing.assert_allclose(sixty.data, block_mean(file_bands(path, [1, 10])[:, C, C], 6),
                               rtol=1e-5)
    assert centre.crs == working_crs(RasterGrid.from_path(path))
    assert -30 < centre.centre_lat < -20 and -50 < centre.centre_lon < -44  # UTM 22S


def test_l1c_sixty_metre_group_has_b10(cell, centre):
    idx = group_bands(band_layout("S2L1C", 13), {"S2L1C_B01_B09_B10": ["B01", "B09", "B10"]})
    r = read_modality(cell / "S2L1C.tif", idx["S2L1C_B01_B09_B10"], centre, pixel_size_m=60.0,
                      resampling="average")
    assert idx["S2L1C_B01_B09_B10"] == [1, 10, 11] and r.data.shape == (3, 32, 32)
    np.testing.assert_allclose(r.data, block_mean(file_bands(cell / "S2L1C.tif", [1, 10, 11])[
        :, C, C], 6), rtol=1e-5)


def test_conditions_dem_s1_lulc(cell, centre):
    # DEM's origin differs from S2's in the 1e-10 m digits: still the same grid (exact read)
    dem10 = read_modality(cell / "DEM.tif", [1], centre, pixel_size_m=10.0, resampling="bilinear")
    np.testing.assert_array_equal(dem10.data[0], file_bands(cell / "DEM.tif", [1])[0, C, C])
    dem = read_modality(cell / "DEM.tif", [1], centre, pixel_size_m=30.0, resampling="average")
    assert dem.data.shape == (1, 64, 64) and dem.valid.all()
    np.testing.assert_allclose(dem.data, block_mean(file_bands(cell / "DEM.tif", [1])[:, C, C],
                                                    3), rtol=1e-5, atol=1e-4)
    scale = s1_scale_of_layer(cell / "S1RTC.tif", [1, 2])
    assert scale.scale == "db"
    s1 = read_modality(cell / "S1RTC.tif", [1, 2], centre, pixel_size_m=10.0,
                       resampling="bilinear", value_transform=db_to_linear)
    want = 10.0 ** (file_bands(cell / "S1RTC.tif", [1, 2])[:, C, C] / 10.0)
    np.testing.assert_allclose(s1.data, want, rtol=1e-5)
    assert (s1.data > 0).all() and s1.data.max() < 10
    lulc = read_modality(cell / "LULC.tif", [1], centre, pixel_size_m=10.0, resampling="nearest")
    np.testing.assert_array_equal(lulc.data[0], file_bands(cell / "LULC.tif", [1])[0, C, C])


def test_plan_and_target_window_on_a_real_cell(cell):
    path = cell / "S2L2A.tif"
    grid = RasterGrid.from_path(path)
    gaps = np.zeros(grid.shape, bool)
    gaps[100:120, 100:120] = True
    plan = plan_footprints(grid, gaps, footprint_m=F, overlap_m=0)
    assert [(fp.window.row_off, fp.window.col_off) for fp in plan] == [
        (0, 0), (0, 32), (32, 0), (32, 32)]
    tw = read_target_window(path, list(range(1, 13)), plan[3].window)
    assert tw.data.dtype == np.int16 and tw.observed.all()  # no nodata in these files
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(tw.data, ds.read(window=plan[3].window))


def test_other_cell_is_in_utm_36s():
    cell = TERRAMESH / "38D_378R_2_3"
    if not (cell / "S2L2A.tif").exists():
        pytest.skip(f"real sample rasters not found at {cell}")
    grid = RasterGrid.from_path(cell / "S2L2A.tif")
    fp = Footprint.on_grid(grid, row_off=16, col_off=16, footprint_m=F)
    assert grid.crs.to_epsg() == 32736 and fp.crs == grid.crs
    assert -15 < fp.centre_lat < 0 and 30 < fp.centre_lon < 36
