"""The offline cloud detector: ukis-csmask's ONNX models in our own ONNX Runtime session give
the package's own classes (its reference code run side by side), on a real scene with a cloud
blended in."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from copgen_plugin.engine.cloud_detector import (
    BANDS_4,
    BANDS_6,
    CloudDetector,
    find_model,
    work_pixel_m,
)
from copgen_plugin.errors import Cancelled, InputError

pytest.importorskip("ukis_csmask", reason="the detector's models come with ukis-csmask 1.0.0 "
                    "(requirements/detector.txt)")
CELL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "terramesh"


def _cloudy(shape: int = 75) -> np.ndarray:
    """B02, B03, B04, B08, B11, B12 reflectance of the real cell at ~30 m, a soft cloud added."""
    path = CELL / "282D_485L_3_3" / "S2L2A.tif"
    if not path.exists():
        pytest.skip(f"real TerraMesh rasters not found at {path.parent}")
    with rasterio.open(path) as src:
        a = src.read([2, 3, 4, 8, 11, 12], out_shape=(6, shape, shape),
                     resampling=Resampling.average).astype(np.float32) / 10000
    yy, xx = np.mgrid[:shape, :shape]
    alpha = np.clip(1.3 - np.hypot(yy - 30, xx - 35) / 14, 0, 1)
    cloud = np.array([0.55, 0.55, 0.56, 0.6, 0.4, 0.3], np.float32)[:, None, None]
    return (a * (1 - alpha) + alpha * cloud).astype(np.float32), alpha


def test_same_classes_as_the_package_reference() -> None:
    pytest.importorskip("scipy", reason="the package's reference code needs scipy")
    from ukis_csmask.mask import CSmask

    img, alpha = _cloudy()
    ours = CloudDetector(find_model("S2L2A", BANDS_6)).classes(img)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "smaller than the 256 px tiling size"
        ref = CSmask(np.moveaxis(img, 0, -1).copy(), product_level="l2a",
                     band_order=["blue", "green", "red", "nir", "swir16", "swir22"],
                     providers=["CPUExecutionProvider"]).csm[..., 0]
    np.testing.assert_array_equal(ours, ref)
    assert (ours[alpha >= 1] == 1).all()  # the thick cloud is cloud


def test_model_choice_and_missing_bands() -> None:
    assert work_pixel_m(10, 109_800) == 30 and work_pixel_m(10, 1920) == 10  # a tile, a cell
    assert work_pixel_m(10, 5120) == 20 and work_pixel_m(20, 1000) == 20
    assert find_model("S2L2A", [*BANDS_6, "B01"]).bands == BANDS_6
    four = find_model("S2L1C", BANDS_4)
    assert four.bands == BANDS_4 and four.onnx.name == "model_4b_l1c.onnx"
    with pytest.raises(InputError, match="needs bands B02, B03, B04, B08"):
        find_model("S2L2A", ["B02", "B03", "B04"])
    valid = np.ones((75, 75), bool)
    valid[:5] = False
    img, _ = _cloudy()
    detector = CloudDetector(find_model("S2L2A", BANDS_6))
    out = detector.classes(img, valid)
    assert out.shape == (75, 75) and out.dtype == np.uint8 and (out[:5] == 0).all()
    with pytest.raises(Cancelled, match="while detecting clouds"):
        detector.classes(img, cancel=lambda: True)
