"""The self-check (issue 18): its scores, its sampling and blobs, and a run with it: outputs
bit-identical to the run without it, the report, the JSON/CSV/PNG beside the outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.errors import InputError
from copgen_plugin.fill import run_fill, summary_lines
from copgen_plugin.fill.options import parse_self_check
from copgen_plugin.fill.scores import Scores, crps_ensemble, expected_coverage
from copgen_plugin.fill.selfcheck import footprint_order, hide_blobs, n_checked
from tests.fill.helpers import cloud_mask, read, request, smooth_s2, write_tif

RGBN = ["B04", "B03", "B02", "B08"]
KEYS = ("coverage_5_95", "mae", "rmse", "gdal_mae", "spread_skill", "crps")


def test_crps_is_the_ensemble_formula() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=5)
    brute = np.abs(x - y).mean(axis=0) - np.abs(x[:, None] - x[None]).sum(axis=(0, 1)) / 98
    np.testing.assert_allclose(crps_ensemble(x, y), brute, rtol=1e-12)
    assert crps_ensemble(np.full((4, 1), 2.0), np.array([5.0]))[0] == pytest.approx(3.0)


@pytest.mark.parametrize("n", [3, 8])
def test_expected_coverage_is_what_a_calibrated_ensemble_covers(n: int) -> None:
    rng = np.random.default_rng(n)
    for draws, tol in ((rng.uniform(size=(n + 1, 40_000)), 0.01),  # exact for uniform values
                       (rng.normal(size=(n + 1, 40_000)), 0.03)):  # close for bell-shaped ones
        samples, truth = draws[:n], draws[n]
        for lo, hi in ((0.05, 0.95), (0.25, 0.75)):
            q_lo, q_hi = np.quantile(samples, [lo, hi], axis=0)
            got = np.mean((truth >= q_lo) & (truth <= q_hi))
            assert got == pytest.approx(expected_coverage(lo, hi, n), abs=tol)
    # and Scores of those draws read as calibrated
    scores = Scores(["x"], n)
    scores.add(samples[:, None], truth[None], np.zeros(truth.size))
    f = scores.figures()
    assert f["coverage_5_95"] == pytest.approx(scores.expected()["coverage_5_95"], abs=0.03)
    assert f["spread_skill"] == pytest.approx(1.0, abs=0.03)


def test_scores_per_band_and_distance() -> None:
    truth = np.array([[0.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 10.0]])
    samples = np.stack([truth + d for d in (1.0, 3.0)])  # mean off by 2, nothing covered
    gdal = truth + np.array([[1.0], [5.0]])
    scores = Scores(["a", "b"], 2)
    scores.add(samples, truth, np.array([10.0, 20.0, 70.0, 500.0]), gdal)
    out = scores.as_dict()
    assert out["mae"] == out["rmse"] == 2.0 and out["coverage_5_95"] == 0.0
    assert out["gdal_mae"] == 3.0 and out["bands"]["b"]["gdal_mae"] == 5.0
    assert out["pixels"] == 8 and scores.pixels == 4
    assert [v["pixels"] for v in out["distances"].values()] == [4, 2, 0, 2]
    assert list(out["distances"]) == ["0-50 m", "50-100 m", "100-200 m", "> 200 m"]
    assert np.isnan(out["distances"]["100-200 m"]["mae"])
    # spread sqrt(2) * sqrt(3/2) over an error of 2
    assert out["spread_skill"] == pytest.approx(np.sqrt(3) / 2)


def test_weighted_figures_mix_distance_bands_as_given() -> None:
    truth = np.zeros((1, 3))
    offset = np.array([1.0, 4.0, 10.0])  # errors of the pixels at 10 m, 70 m and 500 m
    scores = Scores(["a"], 2)
    scores.add(np.stack([truth + offset, truth + offset]), truth,
               np.array([10.0, 70.0, 500.0]))
    assert scores.figures()["mae"] == pytest.approx(5.0)
    assert scores.figures(weights=[0, 0, 0, 1])["mae"] == pytest.approx(10.0)
    assert scores.figures(weights=[0.5, 0.5, 0, 0])["mae"] == pytest.approx(2.5)
    # nothing was hidden at 100-200 m: that band borrows the nearer neighbour's (50-100 m)
    assert scores.figures(weights=[0, 0, 1, 0])["mae"] == pytest.approx(4.0)
    weighted = scores.as_dict(weights=[1, 0, 0, 1])
    assert weighted["mae"] == pytest.approx(5.5) and weighted["pixels"] == 3
    assert weighted["hidden_pixels_only"]["mae"] == pytest.approx(5.0)
    assert weighted["bands"]["a"]["rmse"] == pytest.approx(np.sqrt(50.5))


def test_sampling_checks_at_least_one_footprint_deterministically() -> None:
    assert n_checked(0.03, 13) == 1 and n_checked(0.0, 13) == 0
    assert n_checked(0.5, 13) == 7 and n_checked(1.0, 13) == 13
    assert footprint_order(1, 13) == footprint_order(1, 13) != footprint_order(2, 13)
    assert sorted(footprint_order(1, 13)) == list(range(13))
    for text, message in (("1.5", "between 0 and 1"), ("x", "not a number"),
                          ("nan", "between 0 and 1")):
        with pytest.raises(InputError, match=message):
            parse_self_check(text)
    assert parse_self_check("") == 0.0 and parse_self_check(0.25) == 0.25


def test_blobs_hide_observed_pixels_only_in_gap_sized_shapes() -> None:
    gap = cloud_mask((96, 96), seed=3)
    observed = ~gap
    hidden = hide_blobs(gap, observed, np.random.default_rng(5))
    assert hidden.any() and not (hidden & gap).any()
    assert 0.5 * gap.sum() <= hidden.sum() <= 1.5 * gap.sum()
    np.testing.assert_array_equal(hidden, hide_blobs(gap, observed, np.random.default_rng(5)))


@pytest.fixture
def target(tmp_path: Path) -> tuple[Path, np.ndarray]:
    shape = (120, 200)
    gap = cloud_mask(shape, seed=4, blobs=3)
    data = smooth_s2(shape, 4)
    data[:, gap] = -9999
    return write_tif(tmp_path / "t.tif", data, nodata=-9999, descriptions=RGBN), gap


def test_self_check_leaves_the_outputs_bit_identical_and_reports(tmp_path, ten_m_package,
                                                                   target) -> None:
    path, _ = target
    plain = run_fill(request(path, tmp_path / "plain", ten_m_package, n=3, seed=9))
    checked = run_fill(request(path, tmp_path / "checked", ten_m_package, n=3, seed=9,
                               self_check=0.01))  # rounds up to one footprint
    assert plain.self_check == {}
    for a, b in zip([plain.outputs["filled"], plain.outputs["spread"], *plain.sample_paths],
                    [checked.outputs["filled"], checked.outputs["spread"],
                     *checked.sample_paths], strict=True):
        np.testing.assert_array_equal(read(a)[0], read(b)[0])
    sc = checked.self_check
    assert len(sc["footprints"]) == 1 and sc["hidden_pixels"] > 0 and sc["n_samples"] == 3
    assert sc["expected"]["coverage_5_95"] == pytest.approx(0.45)
    for key in KEYS:
        assert np.isfinite(sc[key]), key
        assert set(sc["bands"]) == set(RGBN) and np.isfinite(sc["bands"]["B08"][key])
    assert sc["mae"] <= sc["rmse"] and 0 <= sc["coverage_5_95"] <= 1
    files = {k: Path(v) for k, v in sc["files"].items()}
    assert files["json"] == tmp_path / "checked" / "filled_selfcheck.json"
    assert json.loads(files["json"].read_text())["mae"] == pytest.approx(sc["mae"])
    rows = list(csv.DictReader(files["csv"].open()))
    assert rows[0]["band"] == "all" and rows[0]["distance"] == "all"
    assert float(rows[0]["crps"]) == pytest.approx(sc["crps"])
    assert {r["band"] for r in rows} == {"all", *RGBN} and len(rows) == 5 * 5
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "checked").iterdir()) == [
        "filled.tif", "filled_selfcheck.csv", "filled_selfcheck.json", "filled_selfcheck.png",
        "samples", "spread.tif"]
    lines = summary_lines(checked)
    assert any(line.startswith("self-check: all ") for line in lines)
    assert any(line.startswith("self-check: B08 ") for line in lines)
    assert not any(line.startswith("self-check") for line in summary_lines(plain))


def test_self_check_refuses_generation(tmp_path, ten_m_package, target) -> None:
    with pytest.raises(InputError, match="self-check grades gap fills"):
        run_fill(request(target[0], tmp_path / "g", ten_m_package, mode="generate",
                         self_check=0.5))
