"""Case 4 of issue 13: layer values on the wrong scale for their modality are refused with
the fix (CLI and qgis_process), nothing is written, the inputs stay byte-identical; the
override runs them and says so; the values are sampled, never read whole."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.fill.helpers import read, transform, write_tif
from tests.reliability.helpers import out_folder
from tests.reliability.run_b import SHAPE, cli, one_error_line, outputs, s2_layer, s2_values
from tests.reliability.snapshot_b import snapshot

RUN = ["--samples", 2, "--steps", 2, "--device", "cpu", "--date", "2021-06-01", "--quiet"]


def _float_reflectance(folder: Path) -> list[object]:
    return [s2_layer(folder, (s2_values() / 10000.0).astype(np.float32))]


def _uint8_quicklook(folder: Path) -> list[object]:
    return [s2_layer(folder, (s2_values() // 40).astype(np.uint8))]


def _s2_as_dem(folder: Path) -> list[object]:
    other = s2_layer(folder, name="other_s2.tif")
    return [s2_layer(folder), "--dem", other]


def _unknown_lulc_codes(folder: Path) -> list[object]:
    codes = np.random.default_rng(1).choice([1, 2, 3, 6, 200], size=(1, *SHAPE))
    lulc = write_tif(folder / "lulc.tif", codes.astype(np.uint8))
    return [s2_layer(folder), "--lulc", lulc]


def _linear_s1_said_db(folder: Path) -> list[object]:
    power = np.random.default_rng(2).uniform(0.005, 0.3, (2, *SHAPE)).astype(np.float32)
    s1 = write_tif(folder / "s1.tif", power, descriptions=["VV", "VH"])
    return [s2_layer(folder), "--s1", s1, "--s1-scale", "db"]


def _dem_voids_undeclared(folder: Path) -> list[object]:
    dem = np.full((1, 30, 30), 420, np.int16)
    dem[0, 5:9, 5:9] = -32768  # voids, nodata not declared
    path = write_tif(folder / "dem.tif", dem, transform_=transform(30.0))
    return [s2_layer(folder), "--dem", path]


CASES: list[tuple[str, Callable[[Path], list[object]], str]] = [
    ("float_reflectance", _float_reflectance,
     r"S2L2A target layer s2\.tif holds values 0\.\d+\.\.0\.\d+, 99th percentile .*: "
     r"reflectance 0\.\.1, .*multiply the bands by 10000"),
    ("uint8_quicklook", _uint8_quicklook,
     r"S2L2A target layer s2\.tif is an 8-bit layer \(0\.\.255\): a quicklook"),
    ("s2_as_dem", _s2_as_dem,
     r"DEM condition other_s2\.tif has 4 bands, where a DEM has one \(elevation in metres\)"),
    ("unknown_lulc_codes", _unknown_lulc_codes,
     r"LULC condition lulc\.tif holds class codes the model does not know: 3, 6, 200 "
     r"\(\d+\.\d % of the sampled pixels\).* The model knows 0 No data, 1 Water, 2 Trees, "
     r"4 Flooded vegetation.*--lulc-remap terramind"),
    ("linear_s1_said_db", _linear_s1_said_db,
     r"S1RTC condition s1\.tif holds values that look like linear power \(median 0\.1\d*.*"
     r"but the S1 scale is set to dB: set it to 'linear' or 'auto'"),
    ("dem_voids_undeclared", _dem_voids_undeclared,
     r"DEM condition dem\.tif holds values -32768\.\.420.*outside the elevations a DEM holds "
     r"\(-500\.\.9000 m\).*declare the layer's nodata value"),
]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_implausible_values_are_refused_with_the_fix(tmp_path: Path, package: Path,
                                                     make: Callable[[Path], list[object]],
                                                     message: str) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    target, *extra = make(inputs)
    out = out_folder(tmp_path / "out")
    before = snapshot(inputs, package)
    proc = cli("gapfill", target, "--model", package, *outputs(out), *extra, *RUN)
    line = one_error_line(proc)
    assert re.search(message, line), line
    assert "rerun with --accept-unusual-values (Processing: ACCEPT_UNUSUAL_VALUES)" in line
    assert list(out.iterdir()) == []  # no output, no partial file, no samples folder
    assert snapshot(inputs, package) == before  # inputs and their folders byte-identical


def test_the_override_runs_them_and_says_so(tmp_path: Path, package: Path) -> None:
    inputs = tmp_path / "in"
    target = s2_layer(inputs, (s2_values() / 10000.0).astype(np.float32))
    before = snapshot(inputs)
    proc = cli("gapfill", target, "--model", package, *outputs(tmp_path / "out"), *RUN,
               "--accept-unusual-values", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    said = "used as it is: ACCEPT_UNUSUAL_VALUES / --accept-unusual-values"
    assert any("reflectance 0..1" in n and said in n for n in report["notes"]), report["notes"]
    filled, _ = read(tmp_path / "out" / "filled.tif")
    src, _ = read(target)
    gap = (src == 0).all(axis=0)
    np.testing.assert_array_equal(filled[:, ~gap], src[:, ~gap])  # observed pixels kept
    assert len(list((tmp_path / "out" / "samples").glob("sample_*.tif"))) == 2
    assert snapshot(inputs) == before


def test_plausible_layers_pass_the_checks(tmp_path: Path, package: Path) -> None:
    from copgen_plugin.engine.package import load_package
    from copgen_plugin.fill import plausibility

    pkg = load_package(package)
    s2 = s2_layer(tmp_path)
    lulc = write_tif(tmp_path / "lulc.tif", np.random.default_rng(0).choice(
        [1, 2, 4, 5, 7, 11], size=(1, *SHAPE)).astype(np.uint8))
    db = write_tif(tmp_path / "s1.tif", (10 * np.log10(np.random.default_rng(3).uniform(
        0.01, 0.3, (2, *SHAPE)))).astype(np.float32))
    assert plausibility.layer_problems(s2, "S2L2A", [1, 2, 3, 4], pkg, nodata=0) == []
    assert plausibility.layer_problems(lulc, "LULC", [1], pkg, nodata=None) == []
    assert plausibility.layer_problems(db, "S1RTC", [1, 2], pkg, nodata=None,
                                       s1_scale="db") == []
    assert plausibility.layer_problems(lulc, "LULC", [1], pkg, nodata=None,
                                       code_remap={4: 3}) != []  # a remap onto a gap code


def test_large_layers_are_sampled_not_read_whole(tmp_path: Path) -> None:
    from copgen_plugin.fill import plausibility

    side = 2048
    data = np.full((2, side, side), 1500, np.int16)
    path = tmp_path / "big.tif"
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=2,
                       dtype="int16", crs="EPSG:32632", transform=transform(), tiled=True,
                       blockxsize=256, blockysize=256) as ds:
        ds.write(data)
    s = plausibility.sample_layer(path, [1, 2], nodata=None)
    assert s.sampled == "64 windows of 32 px"  # 8 x 8 windows: 64 of the 256 tiles
    assert s.values.size == 2 * 64 * 32 * 32 and s.count == 2
    with rasterio.open(path, "r+") as ds:
        ds.build_overviews([8, 16])
    s = plausibility.sample_layer(path, [1], nodata=None)
    assert s.sampled == "overview view, 1/8 a side" and s.values.size == 256 * 256


@pytest.mark.qgis
def test_qgis_process_refuses_float_reflectance(tmp_path: Path, package: Path) -> None:
    from tests.qgis.qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env

    exe = "/usr/bin/qgis_process.bin"
    if not Path(exe).exists():
        pytest.skip("qgis_process.bin is not installed")
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    subprocess.run([exe, "plugins", "enable", PLUGIN_NAME], env=env, capture_output=True,
                   timeout=180)
    inputs = tmp_path / "in"
    target = s2_layer(inputs, (s2_values() / 10000.0).astype(np.float32))
    before = snapshot(inputs)
    out = tmp_path / "out"
    params = {"INPUT": target, "MODEL": package, "N_SAMPLES": 2, "STEPS": 2, "DEVICE": 2,
              "DATE": "2021-06-01", "OUTPUT": out / "filled.tif", "SPREAD": out / "spread.tif",
              "SAMPLES": out / "samples"}
    proc = subprocess.run([exe, "run", "copgen:gapfill", "--", *(f"{k}={v}" for k, v in
                                                                 params.items())],
                          env=env, capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert "reflectance 0..1" in text and "ACCEPT_UNUSUAL_VALUES" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    assert snapshot(inputs) == before  # no .aux.xml either (case 14)
