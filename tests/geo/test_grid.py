"""RasterGrid values, the working CRS and grid alignment."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from copgen_plugin.geo import RasterGrid, grid_offset, pixel_size_m, utm_crs, working_crs
from tests.geo.helpers import UTM32N, north_up, utm_grid_transform, write_tif


def test_grid_from_path_round_trips_georeference(tmp_path):
    p = write_tif(tmp_path / "a.tif", np.zeros((3, 7, 5), np.int16))
    g = RasterGrid.from_path(p)
    assert g.crs == UTM32N
    assert g.transform == utm_grid_transform()
    assert (g.width, g.height) == (5, 7)
    assert g.bounds == (500_000.0, 5_020_000.0 - 70, 500_050.0, 5_020_000.0)
    assert g.window_transform(g.full_window) == g.transform


def test_grid_rejects_rotated_and_empty():
    with pytest.raises(ValueError, match="north-up"):
        RasterGrid(UTM32N, Affine(10, 1, 0, 0, -10, 0), 3, 3)
    with pytest.raises(ValueError, match="1x1"):
        RasterGrid(UTM32N, utm_grid_transform(), 0, 3)


def test_working_crs_keeps_metric_utm():
    g = RasterGrid(UTM32N, utm_grid_transform(), 100, 100)
    assert working_crs(g) == UTM32N


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(10.5, 45.3, 32632), (-51.0, -25.0, 32722), (35.1, -8.0, 32736), (179.9, 10.0, 32660)],
)
def test_geographic_layer_works_in_local_utm(lon, lat, epsg):
    g = RasterGrid(CRS.from_epsg(4326), north_up(lon - 0.01, lat + 0.01, 0.0001),
                   200, 200)
    assert working_crs(g) == CRS.from_epsg(epsg)
    assert utm_crs(lon, lat) == CRS.from_epsg(epsg)


def test_web_mercator_off_the_equator_works_in_utm_but_not_at_it():
    def merc(lon, lat):
        xs, ys = warp_transform(CRS.from_epsg(4326), CRS.from_epsg(3857), [lon], [lat])
        return xs[0], ys[0]
    x, y = merc(10.5, 50.0)  # scale 1/cos(50) = 1.56: "10 m" pixels are 6.4 m on the ground
    g = RasterGrid(CRS.from_epsg(3857), north_up(x, y, 10), 100, 100)
    assert working_crs(g) == CRS.from_epsg(32632)
    x, y = merc(10.5, 0.5)
    g = RasterGrid(CRS.from_epsg(3857), north_up(x, y, 10), 100, 100)
    assert working_crs(g) == CRS.from_epsg(3857)


def test_pixel_size_m_of_a_degree_grid_is_measured_on_the_ground():
    g = RasterGrid(CRS.from_epsg(4326), north_up(10.0, 45.01, 0.0001), 200, 200)
    sx, sy = pixel_size_m(g)
    assert sx == pytest.approx(0.0001 * 111_320 * math.cos(math.radians(45.0)), rel=0.01)
    assert sy == pytest.approx(11.12, rel=0.01)
    assert pixel_size_m(RasterGrid(UTM32N, utm_grid_transform(20.0), 5, 5)) == (20.0, 20.0)


def test_grid_offset_exact_only_for_whole_pixels():
    a = north_up(1000.0, 2000.0, 10)
    assert grid_offset(a, north_up(1030.0, 1980.0, 10)) == (2, 3)
    assert grid_offset(a, north_up(1030.0 + 1e-9, 1980.0, 10)) == (2, 3)
    assert grid_offset(a, north_up(1035.0, 1980.0, 10)) is None
    assert grid_offset(a, north_up(1030.0, 1980.0, 20)) is None
