"""Gap filling a real Sentinel-2 L2A cell (TerraMesh, ../shared/data) with an artificial
cloud-shaped gap, conditioned on the cell's real DEM, Sentinel-1 (dB) and land cover
(TerraMind numbering). Random tiny weights: the values are meaningless, the plumbing is real."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.modalities import TERRAMIND_TO_ESRI_LULC
from copgen_plugin.fill import run_fill
from copgen_plugin.fill.request import LayerInput
from tests.engine.helpers import cpu_denoiser_providers
from tests.fill.helpers import check_gapfill, cloud_mask, need_cell, read, request, write_tif


@pytest.fixture(scope="module")
def cell_fill(full_package, tmp_path_factory):
    cell = need_cell()
    tmp = tmp_path_factory.mktemp("real")
    s2, meta = read(cell / "S2L2A.tif")
    gap = cloud_mask(s2.shape[1:], seed=3)
    holed = s2.copy()
    holed[:, gap] = 0  # Sentinel-2's own nodata value
    target = write_tif(tmp / "s2l2a_clouded.tif", holed, crs=meta["crs"],
                       transform_=meta["transform"], nodata=0,
                       tags={"datetime": "2021-07-21T13:40:10Z"})  # as the cell's S1 file
    conditions = (
        LayerInput(cell / "DEM.tif", "DEM"),
        LayerInput(cell / "S1RTC.tif", "S1RTC"),  # dB: detected from the values
        LayerInput(cell / "LULC.tif", "LULC", code_remap=TERRAMIND_TO_ESRI_LULC),
    )
    fractions: list[float] = []
    req = request(target, tmp / "out", full_package, conditions=conditions, n=3, steps=2,
                  date=None)  # the date comes from the layer's metadata
    report = run_fill(req, progress=lambda f, m: fractions.append(f))
    return report, target, gap, fractions


def test_real_cell_outputs_keep_observed_pixels_and_fill_the_gap(cell_fill):
    report, target, gap, _ = cell_fill
    assert 0.05 < gap.mean() < 0.5  # a real cloud-sized gap, not a toy
    check_gapfill(report, target, gap, n=3)
    filled, meta = read(report.outputs["filled"])
    assert meta["nodata"] == 0 and list(meta["descriptions"][:4]) == ["B01", "B02", "B03", "B04"]
    samples = np.stack([read(p)[0] for p in report.sample_paths]).astype(np.float64)
    # filled = rounded mean of the sample files in the gap; spread = their std (ddof=1)
    np.testing.assert_allclose(filled[:, gap], np.rint(samples.mean(axis=0))[:, gap], atol=1)
    spread, _ = read(report.outputs["spread"])
    np.testing.assert_allclose(spread[:, gap], samples.std(axis=0, ddof=1)[:, gap], rtol=1e-5)


def test_real_cell_report_says_what_ran(cell_fill):
    report, _, _, fractions = cell_fill
    assert report.model_id == "copgen-tiny-random" and report.device == "cpu"
    assert report.providers["denoiser"] == cpu_denoiser_providers()
    assert report.working_crs == "EPSG:32722"  # the cell's own UTM zone
    assert report.footprints_total == 4 and 1 <= report.footprints_run <= 4
    assert report.seed == 7 and report.steps == 2 and report.n_samples == 3
    assert report.date == "2021-07-21"
    assert report.date_source == "s2l2a_clouded.tif dataset tag datetime"
    conds = " | ".join(report.conditions)
    assert "DEM_DEM at 30 m (average)" in conds  # 10 m DEM aggregated to the 30 m grid
    assert "S1RTC_vh_vv at 10 m" in conds and "LULC_LULC at 10 m (nearest, exact crop" in conds
    assert report.s1_scale and report.s1_scale[0].startswith("S1RTC.tif: db (detected")
    assert report.generated_modalities == ["S2L2A_B01_B09", "S2L2A_B02_B03_B04_B08",
                                           "S2L2A_B05_B06_B07_B11_B12_B8A"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 10
