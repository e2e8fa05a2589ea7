"""The committed sample scene: CRS, grids, bands, nodata, and that the script regenerates it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from models.demo import make_scene
from models.demo.world import S1_BANDS, S2_BANDS

SCENE = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _read(name: str) -> tuple[np.ndarray, rasterio.profiles.Profile, tuple[str, ...], dict]:
    with rasterio.open(SCENE / name) as src:
        return src.read(), src.profile, src.descriptions, src.tags()


def test_files_crs_and_grids() -> None:
    bounds = None
    for name, px in [("s2l2a.tif", 10), ("s2l2a_truth.tif", 10), ("s1rtc.tif", 10),
                     ("lulc.tif", 10), ("dem.tif", 30)]:
        with rasterio.open(SCENE / name) as src:
            assert src.crs.to_epsg() == make_scene.EPSG
            assert src.res == (px, px)
            bounds = bounds or src.bounds
            assert src.bounds == bounds, name  # all grids cover the same area
    assert (bounds.right - bounds.left, bounds.top - bounds.bottom) == (1920.0, 1440.0)
    total = sum(p.stat().st_size for p in SCENE.iterdir())
    assert total < 1_000_000


def test_s2_bands_nodata_and_gap() -> None:
    gappy, prof, desc, tags = _read("s2l2a.tif")
    truth, _, tdesc, _ = _read("s2l2a_truth.tif")
    assert desc == tdesc == S2_BANDS
    assert prof["dtype"] == "uint16" and prof["nodata"] == make_scene.S2_NODATA
    gap = (gappy == make_scene.S2_NODATA).all(axis=0)
    assert 0.05 < gap.mean() < 0.3
    assert (gappy == make_scene.S2_NODATA).any(axis=0).sum() == gap.sum()  # all bands at once
    assert (truth != make_scene.S2_NODATA).all()
    np.testing.assert_array_equal(gappy[:, ~gap], truth[:, ~gap])
    assert "reflectance x 10000" in tags["units"]


def test_conditions() -> None:
    s1, p1, d1, t1 = _read("s1rtc.tif")
    assert d1 == S1_BANDS and p1["dtype"] == "float32" and "linear" in t1["units"]
    assert (s1 > 0).all()
    lulc, pl, _, _ = _read("lulc.tif")
    assert pl["dtype"] == "uint8" and set(np.unique(lulc)) <= {1, 2, 5, 7, 8, 11}
    dem, pd, _, td = _read("dem.tif")
    assert pd["dtype"] == "float32" and pd["nodata"] == make_scene.DEM_NODATA
    assert (dem > 0).all() and "metres" in td["units"]


@pytest.mark.parametrize("name", ["s2l2a.tif", "lulc.tif", "dem.tif"])
def test_script_regenerates_the_committed_scene(tmp_path: Path, name: str) -> None:
    make_scene.write_scene(tmp_path)
    committed, _, _, _ = _read(name)
    with rasterio.open(tmp_path / name) as src:
        np.testing.assert_array_equal(src.read(), committed)
