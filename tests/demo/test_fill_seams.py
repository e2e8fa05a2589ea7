"""A whole-raster gap fill of the sample scene: harmonised samples show no footprint seams."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio

from copgen_plugin.fill import FillReport, LayerInput, run_fill
from tests.fill.helpers import read, request

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SCENE = REPO / "resources" / "demo"
N = 3


def _fill(out: Path, harmonise: bool) -> FillReport:
    conditions = [LayerInput(SCENE / "dem.tif", "DEM"),
                  LayerInput(SCENE / "s1rtc.tif", "S1RTC", s1_scale="linear"),
                  LayerInput(SCENE / "lulc.tif", "LULC")]
    return run_fill(request(SCENE / "s2l2a.tif", out, PACKAGE, conditions=conditions, n=N,
                            steps=10, overlap_m=160.0, date=dt.date(2021, 7, 15),
                            harmonise=harmonise))


def _worst_line_step(sample: np.ndarray, gap: np.ndarray, axis: int) -> float:
    """The largest mean step between neighbouring gap pixels across one pixel column (axis -1)
    or row (-2), over the median one: a footprint edge running through the gap stands out."""
    both = (gap[:, 1:] & gap[:, :-1]) if axis == -1 else (gap[1:] & gap[:-1])
    step = np.abs(np.diff(sample, axis=axis)).mean(axis=0)
    if axis == -2:
        step, both = step.T, both.T
    lines = [step[:, i][both[:, i]].mean() for i in range(step.shape[1]) if both[:, i].sum() > 10]
    return float(np.max(lines) / np.median(lines))


@pytest.fixture(scope="module")
def fills(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, FillReport]:
    root = tmp_path_factory.mktemp("seams")
    return {h: _fill(root / str(h), h) for h in (True, False)}


def test_harmonised_fill_says_so(fills: dict[bool, FillReport]) -> None:
    for harmonise, report in fills.items():
        assert report.harmonised is harmonise and report.footprints_run > 4
        for path in (report.outputs["filled"], *report.sample_paths):
            assert read(path)[1]["tags"]["COPGEN_HARMONISED"] == ("yes" if harmonise else "no")


def test_footprint_edges_do_not_show_in_harmonised_samples(
        fills: dict[bool, FillReport]) -> None:
    with rasterio.open(SCENE / "s2l2a.tif") as ds:
        gap = ds.read_masks(1) == 0
        observed = ds.read()
    worst, lines = {}, {}
    for harmonise, report in fills.items():
        ratios = []
        for path in report.sample_paths:
            sample = read(path)[0]
            np.testing.assert_array_equal(sample[:, ~gap], observed[:, ~gap])
            ratios += [_worst_line_step(sample.astype(np.float64), gap, a) for a in (-1, -2)]
        worst[harmonise], lines[harmonise] = float(np.mean(ratios)), max(ratios)
    assert worst[True] < 0.7 * worst[False], worst
    # no line stands out in any sample (a footprint's edge pixels held by the next footprint
    # used to leave a one-pixel line: 2.9 times the median step)
    assert lines[True] < 2.6, lines
