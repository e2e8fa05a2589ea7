"""copgen:gapfill on a Sentinel-2 SAFE zip with MASK_SOURCE=SCL in a real QgsApplication
(issue 16): the zip is accepted as INPUT, the SCL classes are filled, clear pixels are the
product's, the log gives the masked fraction by class; a wrong source combination is refused."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import processing
import pytest
import rasterio
from qgis.core import QgsProcessingException, QgsProcessingFeedback

ROOT = Path(__file__).resolve().parents[2]
CELL = ROOT.parent / "shared" / "data" / "terramesh" / "282D_485L_3_3"


@pytest.fixture(scope="module")
def safe_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    if not (CELL / "S2L2A.tif").exists():
        pytest.skip(f"real TerraMesh rasters not found at {CELL} (../shared/data beside the "
                    "repository)")
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.s2_products import build_safe, zip_safe

    root = tmp_path_factory.mktemp("safe")
    product = build_safe(CELL, root)
    return zip_safe(product, root), product


def test_gapfill_safe_zip_with_its_scl(copgen_plugin: Any, tiny_package: Path,
                                       safe_zip: tuple[Path, Any], tmp_path: Path) -> None:
    path, product = safe_zip
    feedback = QgsProcessingFeedback()
    result = processing.run("copgen:gapfill", {
        "INPUT": str(path), "MASK_SOURCE": 1, "MASK_BUFFER": 0, "MODEL": str(tiny_package),
        "N_SAMPLES": 2, "STEPS": 2, "DEVICE": 2, "OVERLAP": 0,
        "OUTPUT": str(tmp_path / "filled.tif"), "SPREAD": str(tmp_path / "spread.tif"),
        "SAMPLES": str(tmp_path / "samples")}, feedback=feedback)
    up = np.repeat(np.repeat(product.scl20, 2, axis=0), 2, axis=1)
    gap = np.isin(up, (3, 8, 9, 10, 1))
    with rasterio.open(result["OUTPUT"]) as ds:
        filled = ds.read()
        assert ds.count == 12 and ds.transform == product.transform
    np.testing.assert_array_equal(filled[:, ~gap], product.ten_m[:, ~gap])
    assert (filled[:, gap] != 0).all()
    log = feedback.textLog()
    share = (up == 9).mean() * 100
    assert f"masked: SCL class 9 (cloud high probability) {share:.2f} %" in log
    assert "gap source: SCL of " in log and "date 2020-07-15" in log


def test_scl_layer_without_the_scl_source_is_refused(copgen_plugin: Any, tiny_package: Path,
                                                     safe_zip: tuple[Path, Any],
                                                     tmp_path: Path) -> None:
    path, _ = safe_zip
    scl = tmp_path / "scl.tif"
    with rasterio.open(scl, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
                       crs="EPSG:32722", transform=rasterio.Affine(20, 0, 0, 0, -20, 0)) as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(QgsProcessingException, match="SCL is set but MASK_SOURCE is 'nodata'"):
        processing.run("copgen:gapfill", {
            "INPUT": str(path), "SCL": str(scl), "MODEL": str(tiny_package),
            "OUTPUT": str(tmp_path / "f.tif"), "SPREAD": str(tmp_path / "s.tif"),
            "SAMPLES": str(tmp_path / "samples")})
    assert not (tmp_path / "f.tif").exists()


def test_a_layer_opened_from_the_product_means_the_product(copgen_plugin: Any,
                                                           safe_zip: tuple[Path, Any]) -> None:
    """The SAFE loaded in QGIS shows one resolution (a SENTINEL2 subdataset); given as INPUT it
    stands for the whole product."""
    from copgen.copgen_plugin.processing.mask_parameters import input_product
    from qgis.core import QgsApplication, QgsProcessingContext, QgsRasterLayer

    path, product = safe_zip
    crs = product.crs.to_string().replace(":", "_")
    inner = f"/vsizip/{path}/{path.stem}.SAFE/MTD_MSIL2A.xml"
    layer = QgsRasterLayer(f"SENTINEL2_L2A:{inner}:20m:{crs}", "20 m", "gdal")
    assert layer.isValid() and layer.bandCount() >= 6
    alg = QgsApplication.processingRegistry().algorithmById("copgen:gapfill")
    context = QgsProcessingContext()
    assert input_product(alg, {"INPUT": layer}, context) == path
    assert input_product(alg, {"INPUT": str(path)}, context) == path
    tif = path.parent / "plain.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8",
                       crs="EPSG:32722", transform=rasterio.Affine(10, 0, 0, 0, -10, 0)) as ds:
        ds.write(np.ones((1, 2, 2), np.uint8))
    assert input_product(alg, {"INPUT": str(tif)}, context) is None
