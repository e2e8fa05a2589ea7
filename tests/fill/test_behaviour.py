"""Run-level behaviour: cancel, no gaps, all gap, determinism, partial packages, generation,
S1 in dB, per-sample seams."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from copgen_plugin.errors import Cancelled
from copgen_plugin.fill import run_fill
from copgen_plugin.fill.footprint import footprint_seed, sample_composites
from copgen_plugin.fill.request import FillOutputs, LayerInput
from copgen_plugin.geo import OutputSet, RasterGrid
from tests.fill.helpers import (
    SPREAD_NODATA,
    check_gapfill,
    cloud_mask,
    read,
    request,
    smooth_s2,
    transform,
    write_tif,
)

RGBN = ["B04", "B03", "B02", "B08"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def two_footprints(tmp_path):
    """A 4-band layer 320 px wide: two footprints, a gap crossing their overlap."""
    shape = (120, 320)
    gap = np.zeros(shape, bool)
    gap[30:90, 60:260] = True
    data = smooth_s2(shape, 4)
    data[:, gap] = -9999
    return write_tif(tmp_path / "t.tif", data, nodata=-9999, descriptions=RGBN), gap


def test_cancel_mid_run_leaves_no_output_files(tmp_path, ten_m_package, two_footprints):
    target, _ = two_footprints
    before = digest(target)
    out = tmp_path / "out"
    messages: list[str] = []

    def cancel() -> bool:  # stop inside the second footprint, between solver steps
        return any(m.startswith("footprint 2/2: step") for m in messages)

    with pytest.raises(Cancelled):
        run_fill(request(target, out, ten_m_package, steps=3),
                 progress=lambda f, m: messages.append(m), cancel=cancel)
    assert any(m.startswith("footprint 1/2: written") for m in messages)
    assert list(out.iterdir()) == []  # no partial file, and the samples folder it made is gone
    assert digest(target) == before


def test_no_gaps_says_so_and_copies_the_input(tmp_path, ten_m_package):
    data = smooth_s2((50, 60), 4)
    target = write_tif(tmp_path / "clear.tif", data, nodata=-9999, descriptions=RGBN)
    report = run_fill(request(target, tmp_path / "out", ten_m_package))
    assert any(n.startswith("no gaps") for n in report.notes)
    assert report.gap_pixels == 0 and report.footprints_run == 0
    assert report.device.startswith("none")
    for p in [*report.sample_paths, report.outputs["filled"]]:
        np.testing.assert_array_equal(read(p)[0], data)
    assert (read(report.outputs["spread"])[0] == SPREAD_NODATA).all()


def test_all_gap_without_conditions_generates_unconditionally(tmp_path, ten_m_package):
    data = np.full((4, 40, 70), -9999, np.int16)
    target = write_tif(tmp_path / "empty.tif", data, nodata=-9999, descriptions=RGBN)
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3))
    check_gapfill(report, target, np.ones((40, 70), bool), n=3)
    assert any("unconditional generation" in n for n in report.notes)


def test_same_seed_same_files_other_seed_differs_in_the_gap_only(tmp_path, ten_m_package,
                                                                 two_footprints):
    target, gap = two_footprints
    runs = [run_fill(request(target, tmp_path / name, ten_m_package, seed=seed))
            for name, seed in (("a", 11), ("b", 11), ("c", 12))]
    a, b, c = ([read(p)[0] for p in [*r.sample_paths, r.outputs["filled"]]] for r in runs)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    for x, z in zip(a, c, strict=True):
        np.testing.assert_array_equal(x[:, ~gap], z[:, ~gap])
        assert (x[:, gap] != z[:, gap]).mean() > 0.9
    assert footprint_seed(11, 0) != footprint_seed(11, 1) != footprint_seed(12, 0)
    assert footprint_seed(11, 1) == footprint_seed(11, 1)


def test_package_without_some_groups_copies_them_with_gaps_as_nodata(tmp_path, ten_m_package):
    shape = (90, 100)
    gap = cloud_mask(shape, seed=1)
    data = smooth_s2(shape, 12)
    mask = write_tif(tmp_path / "cloud.tif", gap.astype(np.uint8))
    target = write_tif(tmp_path / "s2.tif", data)  # no nodata: the gaps come from the mask
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3, mask=mask))
    assert report.ungenerated_bands == ["B01", "B05", "B06", "B07", "B8A", "B09", "B11",
                                        "B12"]
    assert any("cannot be generated" in n for n in report.notes)
    filled, meta = read(report.outputs["filled"])
    assert meta["nodata"] == -32768  # chosen: the layer had none and never holds it
    gen = [1, 2, 3, 7]  # B02, B03, B04, B08 (0-based file bands)
    other = [b for b in range(12) if b not in gen]
    np.testing.assert_array_equal(filled[:, ~gap], data[:, ~gap])
    assert (filled[other][:, gap] == -32768).all()
    assert (filled[gen][:, gap] != -32768).all()
    spread = read(report.outputs["spread"])[0]
    assert (spread[other] == SPREAD_NODATA).all() and (spread[gen][:, gap] > 0).all()


def test_generate_s2_from_s1_and_dem_on_the_reference_grid(tmp_path, full_package):
    rng = np.random.default_rng(1)
    s1 = (10 * np.log10(rng.uniform(0.01, 0.3, (2, 100, 120)))).astype(np.float32)
    s1_path = write_tif(tmp_path / "s1_db.tif", s1)
    dem = rng.uniform(200, 300, (1, 50, 60)).astype(np.float32)
    dem_path = write_tif(tmp_path / "dem.tif", dem, transform_=transform(20.0))
    conds = (LayerInput(s1_path, "S1RTC"), LayerInput(dem_path, "DEM"))
    report = run_fill(request(s1_path, tmp_path / "out", full_package, mode="generate",
                              conditions=conds, n=2))
    assert report.gap_pixels == report.pixels_written == 100 * 120
    filled, meta = read(report.outputs["filled"])
    assert meta["dtype"] == "float32" and filled.shape == (12, 100, 120)
    assert meta["transform"] == transform() and list(meta["descriptions"][:3]) == [
        "B01", "B02", "B03"]
    assert np.isfinite(filled).all()
    samples = np.stack([read(p)[0] for p in report.sample_paths])
    np.testing.assert_allclose(filled, samples.mean(axis=0), rtol=1e-5, atol=1e-3)
    spread = read(report.outputs["spread"])[0]
    assert (spread > 0).all()
    assert report.s1_scale[0].startswith("s1_db.tif: db (detected")


def test_generate_land_cover_writes_class_codes(tmp_path, full_package):
    ref = write_tif(tmp_path / "ref.tif", np.zeros((1, 60, 80), np.uint8))
    report = run_fill(request(ref, tmp_path / "out", full_package, mode="generate",
                              modality="LULC", n=3, code_remap={3: 4, 4: 5, 5: 7, 6: 8, 7: 9,
                                                                  8: 10, 9: 11}))
    filled, meta = read(report.outputs["filled"])
    assert meta["dtype"] == "uint8" and meta["nodata"] == 255
    assert set(np.unique(filled)) <= set(range(10))  # TerraMind numbering 0..9
    samples = np.stack([read(p)[0] for p in report.sample_paths])
    spread = read(report.outputs["spread"])[0]
    agree = (samples == filled[None]).mean(axis=0)
    np.testing.assert_allclose(spread, 1.0 - agree, atol=1e-6)  # share disagreeing with mode


def test_s1_layer_in_db_is_filled_in_db(tmp_path, full_package):
    rng = np.random.default_rng(2)
    s1 = (10 * np.log10(rng.uniform(0.01, 0.3, (2, 80, 90)))).astype(np.float32)
    gap = cloud_mask((80, 90), seed=6)
    s1[:, gap] = np.nan
    target = write_tif(tmp_path / "s1.tif", s1, nodata=np.nan)
    report = run_fill(request(target, tmp_path / "out", full_package, modality="S1RTC", n=3))
    check_gapfill(report, target, gap, n=3)
    filled = read(report.outputs["filled"])[0]
    vals = filled[:, gap]  # dB in, dB out: linear power would never be negative
    assert vals.min() < 0 and vals.min() >= -55.8 and vals.max() <= 40.3  # the model's dB range
    assert report.s1_scale[0].startswith("s1.tif: db (detected")


def test_each_sample_holds_its_own_earlier_overlap(tmp_path):
    grid = RasterGrid(rasterio.crs.CRS.from_epsg(32632), transform(), 40, 30)
    window = Window(10, 5, 20, 20)
    values = np.full((3, 20, 20), 7, np.int16)
    prior = np.zeros((20, 20), bool)
    prior[:, :6] = True
    with OutputSet() as outs:
        writers = [outs.add(tmp_path / f"s{k}.tif", grid, count=3, dtype="int16")
                   for k in range(2)]
        for k, w in enumerate(writers):
            w.write_window(np.full((3, 30, 40), 100 * (k + 1), np.int16), grid.full_window)
        comp = sample_composites(values, prior, window, writers, bands=[1, 3])
        assert comp.shape == (2, 3, 20, 20)
        for k in range(2):
            assert (comp[k][[0, 2]][:, prior] == 100 * (k + 1)).all()  # sample k's own
            assert (comp[k][1] == 7).all()  # band 2 is not generated: never replaced
            assert (comp[k][:, ~prior] == 7).all()
        assert sample_composites(values, np.zeros_like(prior), window, writers,
                                 bands=[1, 3]) is values


@pytest.mark.parametrize("width", [80, 330])  # one footprint; two, the second regenerating
def test_land_cover_gap_fill_keeps_codes_and_reports_the_no_data_class(tmp_path, full_package,
                                                                      width):
    """Two footprints: the second writes the first's edge pixels again; the report counts
    the "no data" class of each pixel once, as written last."""
    rng = np.random.default_rng(5)
    codes = rng.integers(1, 10, (1, 70, width)).astype(np.uint8)  # TerraMind numbering
    gap = cloud_mask((70, width), seed=7)
    codes[:, gap] = 0  # 0 = no data in both numberings
    target = write_tif(tmp_path / "lulc.tif", codes, nodata=0)
    report = run_fill(request(target, tmp_path / "out", full_package, modality="LULC", n=3,
                              code_remap={3: 4, 4: 5, 5: 7, 6: 8, 7: 9, 8: 10, 9: 11}))
    filled, meta = read(report.outputs["filled"])
    assert meta["dtype"] == "uint8" and meta["nodata"] == 0
    np.testing.assert_array_equal(filled[:, ~gap], codes[:, ~gap])
    assert set(np.unique(filled[:, gap])) <= set(range(10))  # back in TerraMind numbering
    samples = np.stack([read(p)[0] for p in report.sample_paths])
    for s in samples:
        np.testing.assert_array_equal(s[:, ~gap], codes[:, ~gap])
    # filled = per-pixel mode of the samples (ties: smallest code)
    counts = np.stack([(samples == c).sum(axis=0) for c in range(10)])
    np.testing.assert_array_equal(filled[:, gap], np.argmax(counts, axis=0)[:, gap])
    no_data = int((filled[0][gap] == 0).sum())
    assert report.footprints_run == (1 if width == 80 else 2)
    assert any(f"'no data' class for {no_data} gap pixel" in n for n in report.notes) \
        if no_data else not any("'no data' class" in n for n in report.notes)


def test_dilate_grows_a_mask_by_a_chessboard_distance():
    from copgen_plugin.arrays import dilate

    mask = np.zeros((9, 9), bool)
    mask[4, 4] = True
    grown = dilate(mask, 2)
    assert grown.sum() == 25 and grown[2:7, 2:7].all()
    mask[:] = False
    mask[0, 8] = True  # at a corner: clipped, nothing wraps around
    assert dilate(mask, 1).sum() == 4 and not dilate(mask, 1)[:, 0].any()


def test_rewritten_pixels_count_their_no_data_class_once(tmp_path, full_package):
    from copgen_plugin.engine.package import load_package
    from copgen_plugin.fill.inputs import setup_target
    from copgen_plugin.fill.outputs import open_writers, write_footprint
    from copgen_plugin.fill.report import WriteStats

    codes = np.full((1, 20, 30), 3, np.uint8)
    codes[:, 5:15, 5:25] = 0  # the gap; 0 = no data
    req = request(write_tif(tmp_path / "lulc.tif", codes, nodata=0), tmp_path / "out",
                  full_package, modality="LULC", n=2)
    target = setup_target(req, load_package(full_package))
    window = Window(0, 0, 30, 20)
    first = np.zeros((20, 30), bool)
    first[5:15, 5:15] = True
    second = np.zeros((20, 30), bool)
    second[5:15, 12:25] = True  # 3 columns of the first written again
    stats = WriteStats()
    (tmp_path / "samples").mkdir()
    with OutputSet() as outs:
        writers = open_writers(outs, target, FillOutputs(tmp_path / "f.tif", tmp_path / "s.tif",
                                                         tmp_path / "samples"),
                               n_samples=2, statistic="std", tags={})
        nodata_class = np.zeros((2, 1, 20, 30), np.float32)  # the model's "no data" everywhere
        write_footprint(writers, target, window, nodata_class, first, "std", stats)
        assert (stats.pixels, stats.nodata_class) == (100, 100)
        water = np.ones((2, 1, 20, 30), np.float32)  # a real class over the rewritten pixels
        write_footprint(writers, target, window, water, second, "std", stats,
                        new=second & ~first)
        filled = writers.filled.read_window(window)[0]
    assert stats.pixels == 200  # each gap pixel once
    assert stats.nodata_class == int((filled[5:15, 5:25] == 0).sum()) == 70
