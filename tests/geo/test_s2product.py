"""Sentinel-2 products as delivered (issue 16): SAFE folder and zip through GDAL's SENTINEL2
driver, STAC item JSON and band folders, built in the test from the real TerraMesh rasters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from copgen_plugin.geo.s2product import is_product, open_product, write_scl, write_stack
from tests.fixtures.s2_products import (
    L1C_FILE_ORDER,
    L2A_FILE_ORDER,
    build_safe,
    build_stac_folder,
    zip_safe,
)
from tests.geo.helpers import TERRAMESH

CELL = TERRAMESH / "282D_485L_3_3"


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not (CELL / "S2L2A.tif").exists():
        pytest.skip(f"real TerraMesh rasters not found at {CELL} (../shared/data beside the "
                    "repository)")
    root = tmp_path_factory.mktemp("products")
    l2a = build_safe(CELL, root / "l2a")
    l1c = build_safe(CELL, root / "l1c", level="L1C")
    stac = build_stac_folder(CELL, root / "stac")
    return {"l2a": l2a, "l2a_zip": zip_safe(l2a, root / "l2a"), "l1c": l1c,
            "l1c_zip": zip_safe(l1c, root / "l1c"), "stac": stac}


def _stack(path: Path, tmp_path: Path) -> tuple[object, np.ndarray, dict]:
    product = open_product(path)
    vrt = write_stack(product, tmp_path)
    with rasterio.open(vrt) as ds:
        return product, ds.read(), {"desc": ds.descriptions, "nodata": ds.nodata,
                                    "transform": ds.transform, "crs": ds.crs,
                                    "tags": ds.tags()}


@pytest.mark.parametrize("which", ["folder", "zip"])
def test_safe_l2a_every_band_on_the_10m_grid(products, tmp_path, which) -> None:
    truth = products["l2a"]
    path = truth.path if which == "folder" else products["l2a_zip"]
    product, data, meta = _stack(path, tmp_path)
    assert product.family == "S2L2A" and product.kind == f"SAFE {which}"
    assert {b: s.pixel_m for b, s in product.bands.items()} == {
        "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
        "B08": 10, "B8A": 20, "B09": 60, "B11": 20, "B12": 20}
    assert meta["desc"] == L2A_FILE_ORDER and meta["nodata"] == 0
    assert meta["transform"] == truth.transform and meta["crs"] == truth.crs
    np.testing.assert_array_equal(data, truth.ten_m)  # 20/60 m bands repeated, never blended
    assert product.date is not None and product.date.date == truth.date
    assert "PRODUCT_START_TIME" in product.date.source
    with rasterio.open(write_scl(product, tmp_path)) as ds:
        assert ds.res == (20.0, 20.0)
        np.testing.assert_array_equal(ds.read(1), truth.scl20)
    assert not list(tmp_path.glob("*.aux.xml"))


def test_safe_l1c_zip_has_13_bands_and_no_scl(products, tmp_path) -> None:
    product, data, meta = _stack(products["l1c_zip"], tmp_path)
    assert product.family == "S2L1C" and meta["desc"] == L1C_FILE_ORDER
    np.testing.assert_array_equal(data, products["l1c"].ten_m)
    with pytest.raises(ValueError, match="has no SCL band"):
        write_scl(product, tmp_path)


def test_safe_missing_band_is_named(products, tmp_path) -> None:
    broken = build_safe(CELL, tmp_path / "broken", drop=("B8A",))
    for path in (broken.path, zip_safe(broken, tmp_path / "broken")):
        with pytest.raises(ValueError, match=r"band\(s\) B8A is missing .* incomplete"):
            open_product(path)


def test_stac_item_and_band_folder(products, tmp_path) -> None:
    truth = products["stac"]
    for path, kind in ((truth.path / "item.json", "STAC item"), (truth.path, "STAC item")):
        product, data, _ = _stack(path, tmp_path)
        assert product.kind == kind and product.date.date == truth.date
        np.testing.assert_array_equal(data, truth.ten_m)
        assert product.scl is not None and product.scl.pixel_m == 20
    folder = tmp_path / "bands"
    folder.mkdir()
    for f in truth.path.glob("*.tif"):
        (folder / f"T22KXX_20200715T133231_{f.stem}_{'20m' if f.stem == 'SCL' else '10m'}"
                  f"{f.suffix}").write_bytes(f.read_bytes())
    product, data, _ = _stack(folder, tmp_path)
    assert product.kind == "band folder" and product.date is None
    np.testing.assert_array_equal(data, truth.ten_m)


def test_stac_remote_or_absent_assets_are_errors(products, tmp_path) -> None:
    folder = products["stac"].path
    item = json.loads((folder / "item.json").read_text())
    for asset in item["assets"].values():  # absolute hrefs: the JSON is written elsewhere
        asset["href"] = str(folder / asset["href"])
    item["assets"]["B02"]["href"] = "https://example.com/B02.tif"
    remote = tmp_path / "remote.json"
    remote.write_text(json.dumps(item))
    with pytest.raises(ValueError, match="asset B02 is remote"):
        open_product(remote)
    item["assets"]["B02"]["href"] = "nowhere/B02.tif"
    absent = tmp_path / "absent.json"
    absent.write_text(json.dumps(item))
    with pytest.raises(ValueError, match=r"asset B02 file .* does not exist"):
        open_product(absent)


def test_is_product(tmp_path: Path) -> None:
    tif = tmp_path / "a.tif"
    tif.write_bytes(b"")
    assert not is_product(tif)
    assert is_product(tmp_path) and is_product(tmp_path / "x.zip")
    assert is_product(tmp_path / "MTD_MSIL2A.xml") and not is_product(tmp_path / "other.xml")
