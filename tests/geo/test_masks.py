"""Gap masks from SCL / probability / class layers (issue 16): placed without smearing, a
metric disk buffer, ORed with nodata and the mask layer, counted by cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from copgen_plugin.geo.masks import (
    ClassLayer,
    ProbabilityLayer,
    buffer_disk,
    build_gap_mask,
    check_covers,
    probability_scale,
)
from tests.geo.helpers import north_up, write_tif

X0, Y0 = 500_000.0, 5_020_000.0


def _brute_buffer(mask: np.ndarray, r: float) -> np.ndarray:
    yy, xx = np.nonzero(mask)
    gy, gx = np.mgrid[:mask.shape[0], :mask.shape[1]]
    d2 = np.full(mask.shape, np.inf)
    for y, x in zip(yy, xx, strict=True):
        d2 = np.minimum(d2, (gy - y) ** 2 + (gx - x) ** 2)
    return d2 <= r * r


def test_buffer_is_a_disk() -> None:
    rng = np.random.default_rng(1)
    mask = rng.random((40, 50)) > 0.985
    for r in (0.5, 1.0, 2.5, 6.0):
        np.testing.assert_array_equal(buffer_disk(mask, r), _brute_buffer(mask, r)
                                      if r >= 1 else mask)


def test_scl_probability_mask_layer_and_nodata_combined(tmp_path: Path) -> None:
    """A 10 m target with nodata, a 20 m SCL, a 0-1 probability on a 30 m grid, a mask layer:
    the written mask and the counts follow each definition exactly."""
    rng = np.random.default_rng(0)
    h = w = 60
    target = rng.integers(1, 3000, (4, h, w)).astype(np.uint16)
    target[:, 0, :5] = 0
    tpath = write_tif(tmp_path / "t.tif", target, transform=north_up(X0, Y0, 10), nodata=0)
    scl = rng.choice([4, 5, 6, 11, 3, 8, 9], size=(30, 30)).astype(np.uint8)
    spath = write_tif(tmp_path / "scl.tif", scl, transform=north_up(X0, Y0, 20))
    prob = rng.random((20, 20)).astype(np.float32)
    ppath = write_tif(tmp_path / "p.tif", prob, transform=north_up(X0, Y0, 30))
    user = np.zeros((h, w), np.uint8)
    user[50:, 50:] = 1
    upath = write_tif(tmp_path / "m.tif", user, transform=north_up(X0, Y0, 10))
    out = tmp_path / "gap.tif"
    summary = build_gap_mask(
        tpath, [1, 2, 3, 4], out, mask_layer=upath,
        class_layers=[ClassLayer(spath, (3, 8, 9), {3: "cloud shadows"}, "SCL class")],
        probability=ProbabilityLayer(ppath, 0.9), buffer_m=20.0)
    up2 = np.repeat(np.repeat(scl, 2, 0), 2, 1)
    up3 = np.repeat(np.repeat(prob, 3, 0), 3, 1)
    cloud = np.isin(up2, (3, 8, 9)) | (up3 >= 0.9)
    grown = _brute_buffer(cloud, 2.0)
    with rasterio.open(out) as ds:
        written = ds.read(1)
        assert ds.transform == north_up(X0, Y0, 10) and ds.dtypes[0] == "uint8"
    np.testing.assert_array_equal(written, (grown | (user == 1)).astype(np.uint8))
    c = summary.counts
    assert c["SCL class 3 (cloud shadows)"] == (up2 == 3).sum()
    assert c["SCL class 8 (class)"] == (up2 == 8).sum()
    assert c["probability >= 0.9"] == (up3 >= 0.9).sum()
    assert c["buffer 20 m"] == (grown & ~cloud).sum()
    assert c["mask layer"] == 100 and c["nodata"] == 5
    nodata = np.zeros((h, w), bool)
    nodata[0, :5] = True
    assert summary.total == (grown | (user == 1) | nodata).sum()
    assert summary.fractions()["total"] == pytest.approx(summary.total / (h * w))
    assert set(np.unique(written)) <= {0, 1}


def test_scl_codes_are_never_blended(tmp_path: Path) -> None:
    """An SCL on a grid offset by half a pixel: only codes of the SCL reach the target."""
    scl = np.tile(np.array([[3, 9], [4, 11]], np.uint8), (10, 10))
    spath = write_tif(tmp_path / "scl.tif", scl[:16, :16], transform=north_up(X0 - 5, Y0 + 5,
                                                                            20))
    tpath = write_tif(tmp_path / "t.tif", np.ones((1, 30, 30), np.uint16),
                      transform=north_up(X0, Y0, 10))
    layer = ClassLayer(spath, (3, 9, 4, 11), {}, "SCL class")
    s = build_gap_mask(tpath, [1], tmp_path / "g.tif", class_layers=[layer])
    counted = sum(v for k, v in s.counts.items() if k.startswith("SCL"))
    assert counted == 900  # every pixel got exactly one of the SCL's own codes
    assert s.counts["SCL class 3 (class)"] > 0 and s.counts["SCL class 11 (class)"] > 0


def test_probability_scale_and_coverage_errors(tmp_path: Path) -> None:
    pct = write_tif(tmp_path / "pct.tif", np.array([[0, 55.0], [100, 20]], np.float32),
                    transform=north_up(X0, Y0, 10))
    share = write_tif(tmp_path / "share.tif", np.array([[0, 0.55]], np.float32),
                      transform=north_up(X0, Y0, 10))
    bad = write_tif(tmp_path / "bad.tif", np.array([[0, 255.0]], np.float32),
                    transform=north_up(X0, Y0, 10))
    assert probability_scale(pct)[0] == 100.0 and probability_scale(share)[0] == 1.0
    with pytest.raises(ValueError, match=r"bad\.tif holds values up to 255"):
        probability_scale(bad)
    from copgen_plugin.geo.grid import RasterGrid

    grid = RasterGrid.from_path(write_tif(tmp_path / "t.tif", np.ones((1, 20, 20), np.uint8),
                                          transform=north_up(X0, Y0, 10)))
    with pytest.raises(ValueError, match=r"SCL layer pct\.tif .* covers only 1 %"):
        check_covers(pct, grid, "SCL layer")
    away = write_tif(tmp_path / "away.tif", np.ones((20, 20), np.uint8),
                     transform=north_up(X0 + 10_000, Y0, 10))
    with pytest.raises(ValueError, match=r"SCL layer away\.tif does not overlap the target"):
        check_covers(away, grid, "SCL layer")
