"""Footprints of one wavefront generated together: the files of the sequential scan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copgen_plugin.engine.generate import CopgenEngine
from copgen_plugin.engine.runtime import RuntimeOptions
from copgen_plugin.fill import FillReport, LayerInput, run_fill
from copgen_plugin.fill.footprint import FootprintRunner, wavefront_batches
from copgen_plugin.geo import footprint_dependencies, intersect_windows, wavefronts
from tests.fill.helpers import read, request

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SCENE = REPO / "resources" / "demo"
N = 2
ROWS = 2 * N  # two footprints per denoiser call (the scene's wavefronts hold 1 or 2)


class ScanRunner(FootprintRunner):
    """The runner without batches: ``run_fill`` then runs ``run(i)`` in scan order."""

    run_batch = None  # type: ignore[assignment]


class RowCounter:
    """The engine's real denoiser session, the rows of each of its calls recorded."""

    def __init__(self, session: Any) -> None:
        self.session, self.rows = session, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def __call__(self, z: Any, t: Any) -> Any:
        self.rows.append(len(next(iter(z.values()))))
        return self.session(z, t)


def _fill(out: Path, *, batch_rows: int = 0, **run: Any) -> FillReport:
    return run_fill(request(SCENE / "s2l2a.tif", out, PACKAGE,
                            conditions=[LayerInput(SCENE / "dem.tif", "DEM")], n=N, steps=2,
                            overlap_m=160.0, date=dt.date(2021, 7, 15), batch_size=1,
                            batch_rows=batch_rows), **run)


@pytest.fixture(scope="module")
def fills(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("wavefront")
    scan = _fill(root / "scan", runner_factory=ScanRunner)
    engine = CopgenEngine.open(PACKAGE, RuntimeOptions(device="cpu", intra_op_threads=2))
    counter = RowCounter(engine.denoiser())
    engine._denoiser = counter  # type: ignore[assignment]
    batched = _fill(root / "batched", engine=engine, batch_rows=ROWS)
    return {"scan": scan, "batched": batched, "rows": counter.rows}


def test_batched_fill_writes_the_files_of_the_scan(fills: dict[str, Any]) -> None:
    scan, batched = fills["scan"], fills["batched"]
    assert batched.footprints_run == scan.footprints_run > 8
    assert batched.pixels_written == scan.pixels_written == batched.gap_pixels
    pairs = [(scan.outputs[k], batched.outputs[k]) for k in ("filled", "spread")]
    pairs += list(zip(scan.sample_paths, batched.sample_paths, strict=True))
    for a, b in pairs:
        (x, meta_a), (y, meta_b) = read(a), read(b)
        assert meta_a["transform"] == meta_b["transform"] and meta_a["crs"] == meta_b["crs"]
        assert np.array_equal(x, y), Path(a).name  # pixel for pixel


def test_the_row_budget_is_respected_and_used(fills: dict[str, Any]) -> None:
    rows = fills["rows"]
    assert max(rows) == ROWS  # two footprints of N samples in one call, never more
    # fewer denoiser calls than footprints x samples x steps: the batches did share calls
    assert len(rows) < fills["scan"].footprints_run * N * 2


def _grid_plan(overlap_m: float) -> Any:
    from affine import Affine
    from rasterio.crs import CRS

    from copgen_plugin.geo import RasterGrid, plan_footprints

    grid = RasterGrid(crs=CRS.from_epsg(32631), transform=Affine(10, 0, 500_000, 0, -10,
                                                                 5_000_000), width=256, height=208)
    return plan_footprints(grid, np.ones((208, 256), bool), footprint_m=480.0,
                           overlap_m=overlap_m)


@pytest.mark.parametrize(("overlap_m", "per_row"), [(160.0, 2), (320.0, 3)])
def test_wavefront_levels_of_a_grid_of_footprints(overlap_m: float, per_row: int) -> None:
    """A footprint waits for its left neighbour and for the row above as far as it reaches:
    level = col + per_row x row (2 when neighbours overlap by at most half a footprint, 3
    when the next but one overlaps too)."""
    fp_plan = _grid_plan(overlap_m)
    deps = footprint_dependencies(fp_plan)
    levels = wavefronts(deps)
    assert len(fp_plan) > 20
    assert levels == [fp.tile_col + per_row * fp.tile_row for fp in fp_plan]
    for i, fp in enumerate(fp_plan):
        earlier = [j for j in range(i)
                   if intersect_windows(fp_plan[j].window, fp.window) is not None]
        assert deps[i] == earlier and all(levels[j] < levels[i] for j in earlier)
    batches = wavefront_batches(fp_plan, 3)
    assert sorted(i for b in batches for i in b) == list(range(len(fp_plan)))
    seen: set[int] = set()
    for b in batches:  # at most 3, one level, pairwise apart, all their inputs done before
        assert len(b) <= 3 and len({levels[i] for i in b}) == 1
        assert all(set(deps[i]) <= seen for i in b)
        seen |= set(b)
