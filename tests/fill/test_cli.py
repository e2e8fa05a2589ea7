"""``python -m copgen_plugin gapfill|generate`` in a subprocess: outputs, progress bar on
stderr, JSON report on stdout, exit status 1 with one error line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fill.helpers import check_gapfill, cloud_mask, read, smooth_s2, transform, write_tif

REPO = Path(__file__).resolve().parents[2]


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "copgen_plugin", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def outs(tmp: Path) -> list[object]:
    return ["--out-filled", tmp / "f.tif", "--out-spread", tmp / "s.tif",
            "--out-samples", tmp / "samples"]


def test_cli_gapfill_writes_outputs_and_a_json_report(tmp_path, full_package):
    shape = (100, 110)
    gap = cloud_mask(shape, seed=12)
    s2 = smooth_s2(shape, 12)
    s2[:, gap] = 0
    target = write_tif(tmp_path / "s2.tif", s2, nodata=0)
    dem = write_tif(tmp_path / "dem.tif", np.full((1, 40, 40), 420, np.int16),
                    transform_=transform(30.0, origin=(499_000.0, 5_021_000.0)))
    lulc = write_tif(tmp_path / "lulc.tif",
                     np.random.default_rng(0).integers(1, 10, (1, 100, 110)).astype(np.uint8))
    proc = cli("gapfill", target, "--model", full_package, *outs(tmp_path), "--dem", dem,
               "--lulc", lulc, "--lulc-remap", "terramind", "--date", "2021-06-01",
               "--samples", 3, "--steps", 2, "--seed", 5, "--device", "cpu", "--json",
               "--self-check", "0.01")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "100%" in proc.stderr and "[####" in proc.stderr  # the text progress bar
    assert report["device"] == "cpu" and report["date"] == "2021-06-01"
    assert report["harmonised"] is True
    assert any("codes remapped" in c for c in report["conditions"])
    from copgen_plugin.fill import FillReport

    check_gapfill(FillReport(**report), target, gap, n=3)
    check = report["self_check"]  # issue 18: the keys scripts read
    for key in ("coverage_5_95", "mae", "rmse", "gdal_mae", "spread_skill", "crps"):
        assert isinstance(check[key], float) and check["bands"]["B08"][key] >= 0, key
    assert len(check["bands"]) == 12 and len(check["footprints"]) == 1
    assert Path(check["files"]["csv"]) == tmp_path / "f_selfcheck.csv"
    assert [Path(p).name for p in report["sample_paths"]] == [
        "sample_1.tif", "sample_2.tif", "sample_3.tif"]


def test_cli_generate_and_text_report(tmp_path, full_package):
    s1 = (10 * np.log10(np.random.default_rng(3).uniform(0.01, 0.3, (2, 60, 70)))).astype(
        np.float32)
    s1_path = write_tif(tmp_path / "s1.tif", s1)
    proc = cli("generate", s1_path, "--modality", "S2L2A", "--s1", s1_path, "--s1-scale", "db",
               "--model", full_package, *outs(tmp_path), "--samples", 2, "--steps", 2,
               "--quiet", "--no-harmonise")
    assert proc.returncode == 0, proc.stderr
    assert "device actually used: cpu" in proc.stdout
    assert "S1 scale: s1.tif: db (parameter" in proc.stdout
    assert "%" not in proc.stderr and "footprint" not in proc.stderr  # --quiet: no bar
    assert "edges: raw samples (not blended)" in proc.stdout
    filled, meta = read(tmp_path / "f.tif")
    assert filled.shape == (12, 60, 70) and meta["dtype"] == "float32"


@pytest.mark.parametrize(("extra", "message"), [
    (["--model", "no-such-model"], "error: unknown model 'no-such-model'"),
    (["--model", "x", "--lulc-remap", "3-4"], "error: --lulc-remap: '3-4' is not 'from:to'"),
    (["--model", "x", "--samples", "0"], "error: n_samples must be between 1 and 64, got 0"),
    (["--model", "x", "--self-check", "2"],
     "error: --self-check: the self-check fraction must be between 0 and 1"),
])
def test_cli_errors_exit_1_with_one_line(tmp_path, extra, message):
    target = write_tif(tmp_path / "t.tif", np.ones((4, 10, 10), np.int16))
    proc = cli("gapfill", target, *outs(tmp_path), *extra)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(message), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tif"]


def test_cli_cpu_backend_switch_forces_onnxruntime(tmp_path, full_package):
    """`--cpu-backend onnxruntime` (before the command) reaches the engine; the report says
    which runtime ran the denoiser, and observed pixels still pass through bit for bit."""
    shape = (60, 60)
    gap = cloud_mask(shape, seed=4)
    s2 = smooth_s2(shape, 12)
    s2[:, gap] = 0
    target = write_tif(tmp_path / "s2.tif", s2, nodata=0)
    proc = cli("--cpu-backend", "onnxruntime", "gapfill", target, "--model", full_package,
               *outs(tmp_path), "--date", "2021-06-01", "--samples", 3, "--steps", 2,
               "--device", "cpu", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["providers"]["denoiser"] == ["CPUExecutionProvider"]
    from copgen_plugin.fill import FillReport

    check_gapfill(FillReport(**report), target, gap, n=3)
    bad = cli("--cpu-backend", "tensorrt", "gapfill", target)
    assert bad.returncode == 2 and "invalid choice: 'tensorrt'" in bad.stderr
