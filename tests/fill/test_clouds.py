"""Issue 16: real clouds filled from masks the product carries, products as delivered.

Each route ends in a fill whose unmasked pixels are the input's, bit for bit, and whose masked
pixels are all generated; bad mask inputs fail before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from copgen_plugin.errors import InputError
from copgen_plugin.fill import run_fill
from copgen_plugin.fill.options import DEFAULT_SCL_CLASSES
from copgen_plugin.fill.request import GapSources
from tests.fill.helpers import need_cell, read, request, write_tif
from tests.fixtures.s2_products import SIZE, build_safe, build_stac_folder, zip_safe

FAST = {"n": 2, "steps": 2, "overlap_m": 0.0, "date": None}


def _check(report, truth: np.ndarray, gap: np.ndarray, nodata: float | None = 0) -> None:
    """Unmasked pixels bit-identical to ``truth``; every masked pixel generated (not the
    product's nodata 0; a layer without nodata may hold any value)."""
    assert report.gap_pixels == int(gap.sum()) == report.pixels_written
    for p in [*report.sample_paths, report.outputs["filled"]]:
        data, meta = read(p)
        assert data.shape == truth.shape and meta["count"] == truth.shape[0]
        np.testing.assert_array_equal(data[:, ~gap], truth[:, ~gap])
        if nodata is not None:
            assert (data[:, gap] != nodata).all()  # nothing left unfilled
    spread, _ = read(report.outputs["spread"])
    assert (spread[:, ~gap] == -9999.0).all() and (spread[:, gap] >= 0).all()


def _scl_gap(product, classes=DEFAULT_SCL_CLASSES) -> np.ndarray:
    up = np.repeat(np.repeat(product.scl20, 2, axis=0), 2, axis=1)
    return np.isin(up, classes)


def test_safe_zip_scl_of_the_product(full_package, tmp_path) -> None:
    """A SAFE zip as INPUT, the SCL from the same product: its classes are filled, the rest of
    the 12 bands (10, 20, 60 m) pass through; date from the product; fractions by class."""
    cell = need_cell()
    product = build_safe(cell, tmp_path / "in")
    z = zip_safe(product, tmp_path / "in")
    gap = _scl_gap(product)
    req = request(z, tmp_path / "out", full_package,
                  gap_sources=GapSources(scl_from_product=True, buffer_m=0.0), **FAST)
    report = run_fill(req)
    _check(report, product.ten_m, gap)
    with rasterio.open(report.outputs["filled"]) as ds:
        assert ds.descriptions[0] == "B01" and ds.dtypes[0] == "uint16"
        assert ds.transform == product.transform and ds.crs == product.crs
    assert report.date == "2020-07-15" and "PRODUCT_START_TIME" in report.date_source
    assert report.product.startswith("SAFE zip") and "10/20/60 m" in report.product
    n = SIZE * SIZE
    up = np.repeat(np.repeat(product.scl20, 2, axis=0), 2, axis=1)
    for code in DEFAULT_SCL_CLASSES:
        key = next(k for k in report.masked_fraction if k.startswith(f"SCL class {code} ("))
        assert report.masked_fraction[key] == pytest.approx((up == code).sum() / n, abs=1e-6)
    assert report.masked_fraction["total"] == pytest.approx(gap.sum() / n, abs=1e-6)
    assert not any("11 (" in k or "class 6 (" in k for k in report.masked_fraction)  # snow, water
    # beside each 10 m output, its 20 and 60 m bands on their native grids: clear blocks are
    # the product's own values
    native = report.outputs["native"].split(", ")
    assert len(native) == 2 * 3 and all(Path(p).is_file() for p in native)
    with rasterio.open(tmp_path / "out" / "filled_20m.tif") as ds:
        assert ds.descriptions == ("B05", "B06", "B07", "B8A", "B11", "B12")
        assert ds.res == (20.0, 20.0) and ds.crs == product.crs
        b20 = ds.read()
    truth20 = product.ten_m[[4, 5, 6, 8, 10, 11], ::2, ::2]
    clear20 = ~gap.reshape(96, 2, 96, 2).any(axis=(1, 3))
    np.testing.assert_array_equal(b20[:, clear20], truth20[:, clear20])
    assert (b20[:, ~clear20] != 0).all()
    with rasterio.open(tmp_path / "out" / "samples" / "sample_2_60m.tif") as ds:
        assert ds.descriptions == ("B01", "B09") and ds.res == (60.0, 60.0)


def test_probability_layer_percent(full_package, tmp_path) -> None:
    """A 0-100 probability layer on the STAC folder's grid, threshold 0.4 = 40 %."""
    cell = need_cell()
    stac = build_stac_folder(cell, tmp_path / "item")
    yy, xx = np.mgrid[:SIZE, :SIZE]
    prob = np.clip(100 - np.hypot(yy - 90, xx - 100), 0, 100).astype(np.float32)
    path = write_tif(tmp_path / "prob.tif", prob, crs=stac.crs, transform_=stac.transform)
    req = request(stac.path / "item.json", tmp_path / "out", full_package,
                  gap_sources=GapSources(probability=path, probability_threshold=0.4,
                                         buffer_m=0.0), **FAST)
    report = run_fill(req)
    gap = prob >= 40
    _check(report, stac.ten_m, gap)
    assert any("read as 0-100" in s for s in report.gap_sources)
    assert report.masked_fraction["probability >= 0.4"] == pytest.approx(gap.mean(), abs=1e-6)


@pytest.mark.parametrize("case", ["missing band", "scl elsewhere", "probability size"])
def test_bad_inputs_name_the_layer_and_write_nothing(full_package, tmp_path, case) -> None:
    cell = need_cell()
    product = build_safe(cell, tmp_path / "in", drop=("B05",) if case == "missing band" else ())
    target = zip_safe(product, tmp_path / "in")
    sources = GapSources(scl_from_product=True)
    if case == "scl elsewhere":
        far = product.transform @ rasterio.Affine.translation(5000, 0) @ rasterio.Affine.scale(2)
        scl = write_tif(tmp_path / "scl_far.tif", product.scl20, crs=product.crs, transform_=far)
        sources, match = GapSources(scl=scl), "SCL layer scl_far.tif does not overlap"
    elif case == "probability size":
        small = write_tif(tmp_path / "prob_small.tif", np.zeros((100, 100), np.float32),
                          crs=product.crs, transform_=product.transform)
        sources = GapSources(probability=small)
        match = "cloud-probability layer prob_small.tif .* covers only 27 %"
    else:
        match = "band\\(s\\) B05 is missing"
    before = sorted(p.name for p in (tmp_path / "in").rglob("*"))
    out = tmp_path / "out"
    with pytest.raises(InputError, match=match):
        run_fill(request(target, out, full_package, gap_sources=sources, **FAST))
    assert [p for p in out.rglob("*") if p.is_file()] == []
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == before


def test_detector_fills_a_cloud_it_sees(full_package, tmp_path) -> None:
    """No SCL, no probability: the offline detector (ukis-csmask's ONNX model in our ORT
    session) finds a bright cloud blended into the real L2A scene; it is filled."""
    pytest.importorskip("ukis_csmask", reason="the detector's models come with ukis-csmask "
                        "1.0.0 (requirements/detector.txt)")
    cell = need_cell()
    with rasterio.open(cell / "S2L2A.tif") as src:
        data = src.read(window=((16, 16 + SIZE), (16, 16 + SIZE))).astype(np.float32)
        crs, t = src.crs, src.transform @ rasterio.Affine.translation(16, 16)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    alpha = np.clip(1.3 - np.hypot(yy - 90, xx - 100) / 40, 0, 1)
    cloud_dn = np.array([5000, 5500, 5500, 5600, 5800, 6000, 6000, 6000, 6000, 3000, 4000,
                         3000], np.float32)[:, None, None]
    cloudy = (data * (1 - alpha) + alpha * cloud_dn).astype(np.int16)
    target = write_tif(tmp_path / "cloudy.tif", cloudy, crs=crs, transform_=t)
    req = request(target, tmp_path / "out", full_package,
                  gap_sources=GapSources(detector=True, buffer_m=0.0), **FAST)
    report = run_fill(req)
    thick = alpha >= 1.0
    cloud_share = report.masked_fraction["detector class 1 (clouds)"]
    assert cloud_share >= 0.8 * thick.mean()
    with rasterio.open(report.outputs["filled"]) as ds:
        filled = ds.read()
    same = (filled == cloudy).all(axis=0)
    assert same.mean() > 0.5 and (~same[thick]).mean() > 0.9  # the cloud core was generated
    assert any("ukis_csmask 1.0.0-6BL2A" in s for s in report.gap_sources)


def test_cli_flags_build_the_gap_sources(tmp_path) -> None:
    from copgen_plugin.cli import build_parser, build_request

    base = ["gapfill", "in.zip", "--model", "m", "--out-filled", "f.tif", "--out-spread",
            "s.tif", "--out-samples", "d"]
    args = build_parser().parse_args([*base, "--mask-scl", "product", "--scl-classes", "3,9",
                                      "--mask-buffer", "0"])
    src = build_request(args).gap_sources
    assert src.scl_from_product and src.scl is None and src.scl_classes == (3, 9)
    assert src.buffer_m == 0.0 and not src.detector
    args = build_parser().parse_args([*base, "--mask-probability", "p.tif",
                                      "--probability-threshold", "40", "--mask-detector"])
    src = build_request(args).gap_sources
    assert str(src.probability) == "p.tif" and src.probability_threshold == 0.4
    assert src.detector and src.buffer_m == 60.0 and src.scl_classes == DEFAULT_SCL_CLASSES


def test_cli_scl_of_a_plain_raster_is_an_error(tmp_path) -> None:
    from tests.fill.test_cli import cli, outs

    target = write_tif(tmp_path / "t.tif", np.ones((12, 10, 10), np.int16))
    proc = cli("gapfill", target, "--model", "x", *outs(tmp_path), "--mask-scl", "product")
    assert proc.returncode == 1
    assert "error: the SCL of the product was asked for, but INPUT is not a Sentinel-2 " \
        "product" in proc.stderr
    bad = cli("gapfill", target, "--model", "x", *outs(tmp_path), "--scl-classes", "3,12")
    assert bad.returncode == 1 and "error: --scl-classes: SCL class 12 does not exist" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tif"]
