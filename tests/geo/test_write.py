"""Atomic streaming GeoTIFF outputs."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from copgen_plugin.geo import GeoTiffWriter, OutputSet, RasterGrid, to_output_dtype
from tests.geo.helpers import UTM32N, utm_grid_transform, write_tif


def grid(h: int = 300, w: int = 280) -> RasterGrid:
    return RasterGrid(UTM32N, utm_grid_transform(), w, h)


def test_file_appears_only_on_commit_with_full_georeference(tmp_path):
    dest = tmp_path / "filled.tif"
    g = grid()
    w = GeoTiffWriter(dest, g, count=2, dtype="int16", nodata=-1, descriptions=["B04", "B03"],
                      tags={"copgen_model": "tiny"})
    w.write_window(np.full((2, 10, 10), 7, np.int16), Window(5, 5, 10, 10))
    assert not dest.exists()
    partials = list(tmp_path.glob("filled.partial-*.tif"))
    assert partials == [w.tmp]
    out = w.commit()
    assert out == dest and dest.exists() and not list(tmp_path.glob("*partial*"))
    with rasterio.open(dest) as ds:
        assert ds.crs == UTM32N and ds.transform == g.transform
        assert (ds.width, ds.height, ds.count) == (280, 300, 2)
        assert ds.nodata == -1 and ds.dtypes == ("int16", "int16")
        assert ds.descriptions == ("B04", "B03")
        assert ds.tags()["copgen_model"] == "tiny"
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        a = ds.read()
    assert (a[:, 5:15, 5:15] == 7).all() and (a[:, :5] == -1).all()


def test_exception_midway_leaves_nothing_and_keeps_an_old_destination(tmp_path):
    old = write_tif(tmp_path / "sample_0.tif", np.full((1, 4, 4), 9, np.uint8))
    before = old.read_bytes()
    with pytest.raises(RuntimeError, match="cancelled"), OutputSet() as outs:
        s0 = outs.add(tmp_path / "sample_0.tif", grid(), count=1, dtype="uint8")
        s1 = outs.add(tmp_path / "sample_1.tif", grid(), count=1, dtype="uint8")
        spread = outs.add(tmp_path / "spread.tif", grid(), count=1, dtype="float32",
                          nodata=np.nan)
        for wr in (s0, s1):
            wr.write_window(np.ones((1, 50, 50), np.uint8), Window(0, 0, 50, 50))
        spread.write_window(np.zeros((1, 50, 50), np.float32), Window(0, 0, 50, 50))
        raise RuntimeError("cancelled by the user")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_0.tif"]
    assert old.read_bytes() == before
    assert all(w.state == "aborted" for w in outs.writers)


def test_output_set_commits_all_together(tmp_path):
    with OutputSet() as outs:
        for name in ("a.tif", "b.tif", "c.tif"):
            outs.add(tmp_path / name, grid(20, 20), count=1, dtype="float32", nodata=-9999.0)
        outs.writers[1].write_window(np.full((1, 2, 2), 3.5, np.float32), Window(0, 0, 2, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif", "c.tif"]
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert (ds.read(1) == -9999.0).all()  # never written: nodata everywhere
    with rasterio.open(tmp_path / "b.tif") as ds:
        assert ds.read(1)[0, 0] == 3.5 and ds.read(1)[5, 5] == -9999.0
    with pytest.raises(ValueError, match="two outputs"), OutputSet() as outs2:
        outs2.add(tmp_path / "x.tif", grid(), count=1, dtype="uint8")
        outs2.add(tmp_path / "x.tif", grid(), count=1, dtype="uint8")
    assert not (tmp_path / "x.tif").exists() and not list(tmp_path.glob("*partial*"))


def test_bit_exact_copy_then_gap_pixels_only(tmp_path):
    rng = np.random.default_rng(9)
    src = rng.integers(-32767, 32767, (3, 300, 280)).astype(np.int16)
    gap = np.zeros((300, 280), bool)
    gap[100:140, 30:90] = True
    src[:, gap] = -32768
    path = write_tif(tmp_path / "in.tif", src, nodata=-32768)
    with GeoTiffWriter(tmp_path / "filled.tif", grid(), count=3, dtype="int16",
                       nodata=-32768) as w:
        w.copy_from(path, [1, 2, 3], chunk_rows=64, chunk_cols=100)
        win = Window(20, 90, 192, 192)
        gen = rng.normal(500, 100, (3, 192, 192))
        w.write_window(to_output_dtype(gen, "int16", -32768), win,
                       mask=gap[90:282, 20:212])
    with rasterio.open(tmp_path / "filled.tif") as ds:
        out = ds.read()
    np.testing.assert_array_equal(out[:, ~gap], src[:, ~gap])  # observed: bit for bit
    want = to_output_dtype(gen, "int16", -32768)[:, 10:50, 10:70]
    np.testing.assert_array_equal(out[:, 100:140, 30:90], want)


def test_writes_are_clipped_and_masked_per_band(tmp_path):
    with GeoTiffWriter(tmp_path / "o.tif", grid(10, 10), count=2, dtype="uint16",
                       nodata=0) as w:
        w.write_window(np.full((2, 6, 6), 5, np.uint16), Window(-3, 7, 6, 6))
        m = np.zeros((2, 4, 4), bool)
        m[1] = True
        w.write_window(np.full((2, 4, 4), 8, np.uint16), Window(0, 0, 4, 4), mask=m)
        np.testing.assert_array_equal(w.read_window(Window(-1, -1, 3, 3))[1],
                                      [[0, 0, 0], [0, 8, 8], [0, 8, 8]])
        w.write_window(np.ones((2, 3, 3), np.uint16), Window(20, 20, 3, 3))  # fully outside
    with rasterio.open(tmp_path / "o.tif") as ds:
        a = ds.read()
    assert (a[:, 7:, :3] == 5).all() and a[:, 7:, 3:].sum() == 0
    assert (a[0, :4, :4] == 0).all() and (a[1, :4, :4] == 8).all()


def test_band_groups_go_straight_to_their_file_bands(tmp_path):
    with GeoTiffWriter(tmp_path / "o.tif", grid(4, 4), count=12, dtype="int16",
                       nodata=0) as w:
        w.write_window(np.stack([np.full((4, 4), b, np.int16) for b in (4, 3, 2, 8)]),
                       Window(0, 0, 4, 4), bands=[4, 3, 2, 8])
        m = np.zeros((4, 4), bool)
        m[0, 0] = True
        w.write_window(np.full((2, 4, 4), 99, np.int16), Window(0, 0, 4, 4), bands=[8, 1],
                       mask=m)
        assert w.read_window(Window(0, 0, 1, 1), bands=[8, 1]).ravel().tolist() == [99, 99]
        with pytest.raises(ValueError, match="1-based"):
            w.write_window(np.zeros((1, 4, 4), np.int16), Window(0, 0, 4, 4), bands=[13])
    a = read_all(tmp_path / "o.tif")
    assert [int(a[b - 1, 1, 1]) for b in range(1, 13)] == [0, 2, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0]
    assert a[7, 0, 0] == 99 and a[0, 0, 0] == 99 and a[0, 1, 1] == 0


def read_all(path):
    with rasterio.open(path) as ds:
        return ds.read()


def test_wrong_arrays_are_refused(tmp_path):
    w = GeoTiffWriter(tmp_path / "o.tif", grid(10, 10), count=1, dtype="int16")
    try:
        with pytest.raises(TypeError, match="to_output_dtype"):
            w.write_window(np.zeros((1, 2, 2), np.float32), Window(0, 0, 2, 2))
        with pytest.raises(ValueError, match="does not fit"):
            w.write_window(np.zeros((1, 2, 3), np.int16), Window(0, 0, 2, 2))
        w.write_window(np.zeros((2, 2), np.uint8), Window(0, 0, 2, 2))  # safe cast, 2-D
        other = write_tif(tmp_path / "f.tif", np.zeros((1, 10, 10), np.float32))
        with pytest.raises(ValueError, match="same type"):
            w.copy_from(other, [1])
        shifted = write_tif(tmp_path / "s.tif", np.zeros((1, 10, 10), np.int16),
                            transform=utm_grid_transform(origin=(500_010.0, 5_020_000.0)))
        with pytest.raises(ValueError, match="not on the output grid"):
            w.copy_from(shifted, [1])
    finally:
        w.abort()
    assert list(tmp_path.glob("*partial*")) == [] and not (tmp_path / "o.tif").exists()
    with pytest.raises(RuntimeError, match="aborted"):
        w.write_window(np.zeros((1, 2, 2), np.int16), Window(0, 0, 2, 2))


def test_cog_output(tmp_path):
    with GeoTiffWriter(tmp_path / "c.tif", grid(600, 600), count=1, dtype="float32",
                       nodata=np.nan, cog=True) as w:
        w.write_window(np.ones((1, 600, 600), np.float32), Window(0, 0, 600, 600))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif"]
    with rasterio.open(tmp_path / "c.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.overviews(1) and (ds.read(1) == 1).all()


def test_to_output_dtype_never_produces_nodata():
    a = np.array([-0.4, 0.4, 1.6, 70000.0, -5.0])
    np.testing.assert_array_equal(to_output_dtype(a, "uint16", None), [0, 0, 2, 65535, 0])
    np.testing.assert_array_equal(to_output_dtype(a, "uint16", 0), [1, 1, 2, 65535, 1])
    np.testing.assert_array_equal(to_output_dtype(a, "uint16", 65535), [0, 0, 2, 65534, 0])
    f = to_output_dtype(np.array([-9999.0, 1.0]), "float32", -9999.0)
    assert f.dtype == np.float32 and f[0] != -9999.0 and f[0] == pytest.approx(-9999.0)
    with pytest.raises(ValueError, match="NaN"):
        to_output_dtype(np.array([np.nan]), "int16", None)


def test_missing_output_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GeoTiffWriter(tmp_path / "no" / "x.tif", grid(), count=1, dtype="uint8")
