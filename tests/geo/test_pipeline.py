"""The geo building blocks put together the way the orchestrator will: plan, read, generate
(a fake generator with known output), write back gap pixels only, hold earlier overlap as
observed, stream N samples + filled + spread, commit or leave nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from copgen_plugin.geo import (
    FootprintPlan,
    GapReader,
    OutputSet,
    RasterGrid,
    plan_footprints,
    read_modality,
    read_target_window,
    to_output_dtype,
    to_target_grid,
    window_slices,
)
from tests.geo.helpers import north_up, write_tif

F = 1920.0
N = 2
OFFSET = 100.0  # sample k = truth + k * OFFSET + footprint term


class CancelledError(Exception):
    pass


def run_fill(target: Path, truth: Path, out: Path, *, mask: Path | None = None,
             overlap_m: float = 320.0, cancel_after: int | None = None
             ) -> tuple[FootprintPlan, np.ndarray]:
    """A minimal orchestrator. The fake generator returns the truth on the 10 m native grid
    + k * OFFSET + 1000 * (footprint + 1). Returns the plan and, per target pixel, the index of
    the footprint that wrote it (-1: none)."""
    grid = RasterGrid.from_path(target)
    with rasterio.open(target) as ds:
        count, dtype, nodata = ds.count, ds.dtypes[0], ds.nodata
    bands = list(range(1, count + 1))
    gaps = GapReader(target, tuple(bands), mask_path=mask)
    plan = plan_footprints(grid, gaps, footprint_m=F, overlap_m=overlap_m, strip_rows=64)
    writer_of = np.full(grid.shape, -1, np.int32)
    with OutputSet() as outs:
        samples = [outs.add(out / f"sample_{k}.tif", grid, count=count, dtype=dtype,
                            nodata=nodata) for k in range(N)]
        filled = outs.add(out / "filled.tif", grid, count=count, dtype=dtype, nodata=nodata)
        spread = outs.add(out / "spread.tif", grid, count=count, dtype="float32",
                          nodata=-9999.0, descriptions=[f"spread b{b}" for b in bands])
        for w in [*samples, filled]:
            w.copy_from(target, bands)
        for i, fp in enumerate(plan):
            if cancel_after is not None and i == cancel_after:
                raise CancelledError
            tw = read_target_window(target, bands, fp.window, mask_path=mask)
            prior = plan.prior_coverage(i) & tw.gap
            inter = grid.clip(fp.window)
            sl = window_slices(inter, fp.window)
            view = writer_of[window_slices(inter, grid.full_window)]
            already = np.zeros(tw.gap.shape, bool)
            already[sl] = view >= 0
            already_by = np.full(tw.gap.shape, -1)
            already_by[sl] = view
            np.testing.assert_array_equal(prior, already)  # prior = exactly what was written
            # Inpainting input for sample k: observed + what sample k already generated here.
            truth_win = read_target_window(truth, bands, fp.window).data
            for k, w in enumerate(samples):
                composite = np.where(prior, w.read_window(fp.window), tw.data)
                held = composite[:, prior]
                if np.issubdtype(held.dtype, np.integer):
                    want = truth_win[:, prior] + k * OFFSET + 1000 * (already_by[prior] + 1)
                    np.testing.assert_array_equal(held, want)
                else:
                    assert np.isfinite(held).all()
            truth_native = read_modality(truth, bands, fp, pixel_size_m=10.0,
                                         resampling="bilinear")
            gen = np.stack([truth_native.data + k * OFFSET + 1000.0 * (i + 1) for k in range(N)])
            patches = [to_target_grid(g, fp, grid, pixel_size_m=10.0, resampling="bilinear")
                       for g in gen]
            write = tw.gap & patches[0].covered & ~prior
            for w, p in zip(samples, patches, strict=True):
                w.write_window(to_output_dtype(p.data, dtype, nodata), fp.window, mask=write)
            stack = np.stack([p.data for p in patches])
            filled.write_window(to_output_dtype(stack.mean(axis=0), dtype, nodata), fp.window,
                                mask=write)
            spread.write_window(stack.std(axis=0).astype(np.float32), fp.window, mask=write)
            sub = write[sl]
            assert (view[sub] == -1).all()  # nothing is generated twice
            view[sub] = i
    return plan, writer_of


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(11)
    truth = rng.integers(100, 5000, (4, 420, 430)).astype(np.int16)
    target = truth.copy()
    gap = np.zeros((420, 430), bool)
    gap[330:400, 20:400] = True
    target[:, gap] = 0
    cloud = np.zeros((420, 430), np.uint8)
    cloud[10:20, 10:20] = 1  # observed but cloudy: the mask raster says fill it
    (tmp_path / "out").mkdir()
    return {
        "truth": write_tif(tmp_path / "truth.tif", truth),
        "target": write_tif(tmp_path / "target.tif", target, nodata=0),
        "mask": write_tif(tmp_path / "cloud.tif", cloud),
        "gap": gap | (cloud != 0),
        "truth_arr": truth,
        "target_arr": target,
        "out": tmp_path / "out",
    }


def test_fill_streams_composites_and_continues_samples_across_seams(scene):
    out = scene["out"]
    plan, writer_of = run_fill(scene["target"], scene["truth"], out, mask=scene["mask"])
    gap, truth, target = scene["gap"], scene["truth_arr"], scene["target_arr"]
    assert len(plan) < plan.n_candidates  # footprints without gaps were skipped
    assert sorted(p.name for p in out.iterdir()) == [
        "filled.tif", "sample_0.tif", "sample_1.tif", "spread.tif"]
    assert ((writer_of >= 0) == gap).all()  # every gap pixel generated, nothing else
    filled = read(out / "filled.tif")
    np.testing.assert_array_equal(filled[:, ~gap], target[:, ~gap])  # bit for bit
    term = 1000 * (writer_of[gap] + 1)
    for k in range(N):
        s = read(out / f"sample_{k}.tif")
        np.testing.assert_array_equal(s[:, ~gap], target[:, ~gap])
        # each pixel comes from the first footprint covering it: no averaging at seams
        np.testing.assert_array_equal(s[:, gap], truth[:, gap] + k * OFFSET + term)
    np.testing.assert_array_equal(filled[:, gap], truth[:, gap] + OFFSET * (N - 1) / 2 + term)
    spread = read(out / "spread.tif")
    assert (spread[:, ~gap] == -9999.0).all()
    np.testing.assert_allclose(spread[:, gap], OFFSET / 2)
    assert len(np.unique(writer_of[gap])) > 2  # several footprints and seams were involved


def test_cancel_mid_run_leaves_no_output_files(scene):
    out = scene["out"]
    with pytest.raises(CancelledError):
        run_fill(scene["target"], scene["truth"], out, cancel_after=2)
    assert list(out.iterdir()) == []


def test_fill_of_an_epsg4326_target(tmp_path):
    wgs84 = CRS.from_epsg(4326)
    t = north_up(10.50, 45.30, 0.0001)
    h, w = 200, 330
    xs = t.c + (np.arange(w) + 0.5) * t.a
    ys = t.f + (np.arange(h) + 0.5) * t.e
    gx, gy = np.meshgrid(xs, ys)
    ue, un = warp_transform(wgs84, CRS.from_epsg(32632), gx.ravel(), gy.ravel())
    ramp = (0.01 * (np.array(ue) - 620_000) + 0.02 * (np.array(un) - 5_010_000))
    truth = ramp.reshape(1, h, w).astype(np.float32)
    target = truth.copy()
    gap = np.zeros((h, w), bool)
    gap[60:140, 30:300] = True
    target[:, gap] = np.nan
    paths = {n: write_tif(tmp_path / f"{n}.tif", a, crs=wgs84, transform=t,
                          nodata=np.nan if n == "target" else None)
             for n, a in (("truth", truth), ("target", target))}
    (tmp_path / "out").mkdir()
    plan, writer_of = run_fill(paths["target"], paths["truth"], tmp_path / "out",
                               overlap_m=0.0)
    assert not plan.aligned and plan.crs == CRS.from_epsg(32632)
    assert ((writer_of >= 0) == gap).all()
    s0 = read(tmp_path / "out" / "sample_0.tif")[0]
    np.testing.assert_array_equal(s0[~gap], target[0][~gap])
    assert np.isfinite(s0).all()
    # truth file -> UTM 10 m -> back to degrees, footprint term removed: the ramp (0.02 per
    # metre north) within 0.1, i.e. 5 m: half a native pixel, clamped at a square's edge
    got = s0[gap] - 1000.0 * (writer_of[gap] + 1)
    np.testing.assert_allclose(got, truth[0][gap], atol=0.1)
    assert np.median(np.abs(got - truth[0][gap])) < 0.01
