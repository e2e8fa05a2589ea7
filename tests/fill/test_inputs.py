"""Bad input is an ``InputError`` with an actionable message, before any output is opened;
band mappings, model ids and masks on other grids work."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.windows import Window

from copgen_plugin.errors import CopgenError, InputError
from copgen_plugin.fill import run_fill
from copgen_plugin.fill.model import resolve_model
from copgen_plugin.fill.request import LayerInput
from copgen_plugin.geo import GapReader
from tests.fill.helpers import (
    check_gapfill,
    cloud_mask,
    read,
    request,
    smooth_s2,
    transform,
    write_tif,
)


@pytest.fixture
def layer(tmp_path):
    data = smooth_s2((40, 50), 4)
    data[:, 10:20, 10:30] = -9999
    return write_tif(tmp_path / "rgbn.tif", data, nodata=-9999)


def fails(req, match: str) -> None:
    out = req.outputs.filled.parent
    with pytest.raises(InputError, match=match):
        run_fill(req)
    assert sorted(p.name for p in out.iterdir()) == []  # nothing was opened


def test_wrong_band_count_asks_for_a_band_mapping(tmp_path, layer, ten_m_package):
    fails(request(layer, tmp_path / "out", ten_m_package),
          r"standard order has 12 bands.*this layer has 4.*band mapping")


def test_a_band_mapping_covers_other_orders(tmp_path, ten_m_package):
    data = smooth_s2((40, 50), 4)  # file order B08, B02, B03, B04
    gap = np.zeros((40, 50), bool)
    gap[5:25, 20:45] = True
    data[:, gap] = -9999
    target = write_tif(tmp_path / "nirfirst.tif", data, nodata=-9999)
    report = run_fill(request(target, tmp_path / "out", ten_m_package, n=3,
                              bands="B08,B02,B03,B04"))
    check_gapfill(report, target, gap, n=3)
    assert read(report.outputs["filled"])[1]["descriptions"] == ("B08", "B02", "B03", "B04")
    assert "(band mapping)" in report.conditions[0]


def test_condition_outside_the_target_is_refused(tmp_path, layer, full_package):
    far = write_tif(tmp_path / "dem.tif", np.ones((1, 20, 20), np.float32),
                    transform_=transform(30.0, origin=(700_000.0, 5_500_000.0)))
    data = smooth_s2((40, 50), 12)
    data[:, :5, :5] = -9999
    s2 = write_tif(tmp_path / "s2.tif", data, nodata=-9999)
    fails(request(s2, tmp_path / "out", full_package, conditions=[LayerInput(far, "DEM")]),
          "DEM condition dem.tif does not overlap the target layer")


def test_condition_the_model_lacks_and_duplicate_or_target_family(tmp_path, layer,
                                                                 ten_m_package):
    dem = write_tif(tmp_path / "dem.tif", np.ones((1, 20, 20), np.float32))
    opts = {"bands": "B04,B03,B02,B08"}
    fails(request(layer, tmp_path / "o1", ten_m_package, conditions=[LayerInput(dem, "DEM")],
                  **opts), "has no DEM modality.*it has S2L2A")
    fails(request(layer, tmp_path / "o2", ten_m_package, conditions=[
        LayerInput(dem, "DEM"), LayerInput(dem, "DEM")], **opts), "one condition layer per")
    fails(request(layer, tmp_path / "o3", ten_m_package, conditions=[
        LayerInput(layer, "S2L2A")], **opts), "target's own modality")


@pytest.mark.parametrize(("option", "value", "match"), [
    ("n_samples", 0, "n_samples must be between 1 and 64"),
    ("steps", 0, "steps must be between 1 and 1000"),
    ("seed", -1, "seed must be between 0 and"), ("spread_statistic", "var", "spread_statistic"),
    ("overlap_m", 1920.0, "overlap_m must be between 0 and 960"),
    ("device", "tpu", "device must be"),
])
def test_bad_parameters(tmp_path, layer, ten_m_package, option, value, match):
    req = request(layer, tmp_path / "out", ten_m_package, bands="B04,B03,B02,B08")
    fails(replace(req, **{option: value}), match)


def test_outputs_never_overwrite_inputs(tmp_path, layer, ten_m_package):
    req = request(layer, tmp_path / "out", ten_m_package, bands="B04,B03,B02,B08")
    bad = replace(req, outputs=replace(req.outputs, filled=layer))
    with pytest.raises(InputError, match="is one of the inputs"):
        run_fill(bad)


def test_unknown_model_lists_what_is_installed_and_ids_resolve(tmp_path, ten_m_package,
                                                              isolated_user_dirs):
    models = isolated_user_dirs / "models"
    models.mkdir(exist_ok=True)
    link = models / "tiny"
    if not link.exists():
        link.symlink_to(ten_m_package, target_is_directory=True)
    with pytest.raises(InputError, match=r"unknown model 'copgen-huge'.*installed: "
                                         r"copgen-tiny-random seed-0"):
        resolve_model("copgen-huge")
    assert resolve_model("copgen-tiny-random") == ten_m_package.resolve()
    assert resolve_model(str(ten_m_package / "manifest.json")) == ten_m_package.resolve()
    with pytest.raises(CopgenError, match="not a model package"):
        resolve_model(str(tmp_path))


def test_mask_on_another_crs_and_grid_is_resampled(tmp_path, ten_m_package):
    shape = (80, 100)
    data = smooth_s2(shape, 4)
    target = write_tif(tmp_path / "clear.tif", data)  # no nodata: the mask says where
    flags = cloud_mask((60, 70), seed=8).astype(np.uint8)
    mask = write_tif(tmp_path / "mask4326.tif", flags, crs=CRS.from_epsg(4326),
                     transform_=transform(0.0002, origin=(8.9995, 45.3340)))
    req = request(target, tmp_path / "out", ten_m_package, n=3, mask=mask,
                  bands="B04,B03,B02,B08")
    gap = GapReader(target, (1, 2, 3, 4), mask_path=mask)(Window(0, 0, 100, 80))
    assert 0.05 < gap.mean() < 0.9
    report = run_fill(req)
    check_gapfill(report, target, gap, n=3)
    assert read(report.outputs["filled"])[1]["nodata"] is None


def test_ambiguous_s1_values_ask_for_the_scale(tmp_path, full_package):
    s2 = smooth_s2((40, 50), 12)
    s2[:, :10, :10] = -9999
    s2_path = write_tif(tmp_path / "s2.tif", s2, nodata=-9999)
    s1 = write_tif(tmp_path / "s1.tif", np.full((2, 40, 50), 7.5, np.float32))
    fails(request(s2_path, tmp_path / "out", full_package,
                  conditions=[LayerInput(s1, "S1RTC")]), "set the S1 scale parameter")

