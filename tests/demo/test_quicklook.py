"""The demo quicklook: its distance bands, FillNodata baseline and picture from real GeoTIFFs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio
from affine import Affine

from copgen_plugin.geo.baseline import fill_nodata

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quicklook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quicklook", REPO / "scripts" / "quicklook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_distance_to_observed_in_metres(quicklook: ModuleType) -> None:
    gap = np.zeros((5, 12), bool)
    gap[:, 4:] = True  # columns 4.. are gap; column 3 is the last observed one
    dist = quicklook.distance_to_observed(gap, 10.0)
    np.testing.assert_allclose(dist[2, :5], [0, 0, 0, 0, 10])
    np.testing.assert_allclose(dist[0, 11], 80.0)


def test_fill_nodata_baseline_fills_only_from_observed() -> None:
    image = np.stack([np.full((6, 6), 500.0), np.full((6, 6), 1200.0)])
    gap = np.zeros((6, 6), bool)
    gap[2:4, 2:4] = True
    image[:, gap] = 9999.0  # whatever lies under the gap must not be used
    out = fill_nodata(image, ~gap, max_search_px=500)
    np.testing.assert_allclose(out[0][gap], 500.0)
    np.testing.assert_allclose(out[1][gap], 1200.0)


def _write(path: Path, data: np.ndarray, nodata: float | None = None) -> None:
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2],
               "count": data.shape[0], "dtype": data.dtype.name, "crs": "EPSG:32631",
               "transform": Affine(10, 0, 500_000, 0, -10, 5_400_000), "nodata": nodata}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = ("B04", "B03", "B02", "B08")[:data.shape[0]]


def test_summary_and_picture(quicklook: ModuleType, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(300, 2000, (4, 40, 40)).astype(np.uint16)
    gap = np.zeros((40, 40), bool)
    gap[5:35, 5:35] = True
    target = truth.copy()
    target[:, gap] = 0
    spread = np.zeros((4, 40, 40), np.float32)
    spread[:, gap] = np.where(quicklook.distance_to_observed(gap, 10.0)[gap] > 50, 300, 100)
    out = tmp_path / "out"
    (out / "samples").mkdir(parents=True)
    _write(tmp_path / "target.tif", target, nodata=0)
    _write(tmp_path / "truth.tif", truth)
    _write(out / "filled.tif", truth)  # a perfect fill
    _write(out / "spread.tif", spread)
    for i in (1, 2, 3):
        _write(out / "samples" / f"sample_{i}.tif", truth)
    lines = quicklook.summarise(out, tmp_path / "target.tif", tmp_path / "truth.tif")
    assert lines[0].startswith("spread (std of B04, DN) 0-50 m") and ": 100 over" in lines[0]
    assert "100-200 m" in lines[2] and ": 300 over" in lines[2]
    assert lines[-1].startswith("filled vs truth in the gap: RMSE 0 DN")
    png = quicklook.render(out, tmp_path / "target.tif", tmp_path / "q.png", tmp_path / "truth.tif")
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_picture_zooms_to_the_gap_with_context(quicklook: ModuleType) -> None:
    gap = np.zeros((200, 300), bool)
    gap[100:140, 50:90] = True
    rows, cols = quicklook.gap_view(gap)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (84, 156, 34, 106)  # 16 px context
    gap[0:5, 280:300] = True  # a second gap at the corner: both shown, clipped to the raster
    rows, cols = quicklook.gap_view(gap)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 189, 0, 300)
    assert quicklook.gap_view(np.zeros((5, 5), bool)) == (slice(None), slice(None))
