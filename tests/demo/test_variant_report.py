"""The run report names the graph variant that ran (issue 15): the demo scene filled through
the CLI with the demo package's fp16 variant forced on the CPU, against the same fill with
the fp32 variant chosen for the CPU; and diagnostics list both variants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio

from copgen_plugin.diagnostics import model_variants
from copgen_plugin.model_store import PackageInfo

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SCENE = REPO / "resources" / "demo"


def _fill(tmp: Path, precision: str) -> tuple[str, np.ndarray]:
    out = tmp / precision
    env = {**os.environ, "PYTHONPATH": str(REPO), "COPGEN_MODELS_DIR": str(tmp / "models"),
           "COPGEN_CPU_BACKEND": "onnxruntime"}  # the variants' parity on ONNX Runtime
    proc = subprocess.run(
        [sys.executable, "-m", "copgen_plugin", "gapfill", str(SCENE / "s2l2a.tif"),
         "--dem", str(SCENE / "dem.tif"), "--s1", str(SCENE / "s1rtc.tif"), "--s1-scale",
         "linear", "--lulc", str(SCENE / "lulc.tif"), "--date", "2021-07-15",
         "--overlap", "160", "--model", str(PACKAGE), "--samples", "2", "--steps", "3",
         "--seed", "7", "--device", "cpu", "--precision", precision, "--quiet",
         "--out-filled", str(out / "filled.tif"), "--out-spread", str(out / "spread.tif"),
         "--out-samples", str(out / "samples")],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    with rasterio.open(out / "filled.tif") as src:
        return proc.stdout, src.read().astype(np.float64)


def test_report_names_the_variant_and_fp16_fills_like_fp32(tmp_path: Path) -> None:
    text16, filled16 = _fill(tmp_path, "fp16")
    text32, filled32 = _fill(tmp_path, "auto")
    assert ("model variant: fp16 (dynamo exporter, opset 23) on cpu: fp16 asked for"
            in text16.splitlines())
    assert ("model variant: fp32 (torchscript exporter, opset 17) on cpu: made for cpu"
            in text32.splitlines())
    with rasterio.open(SCENE / "s2l2a.tif") as src:
        observed = (src.read() != 0).all(axis=0)
    gap = ~observed
    assert gap.any() and observed.any()
    np.testing.assert_array_equal(filled16[:, observed], filled32[:, observed])  # bit for bit
    diff = np.abs(filled16[:, gap] - filled32[:, gap])
    assert 0 < diff.mean() < 0.02 * np.abs(filled32[:, gap]).mean()  # same fill, fp16 noise


def test_diagnostics_list_the_variants_and_the_choice_per_device() -> None:
    demo = [PackageInfo("copgen-demo", "x", PACKAGE, True)]
    cpu = model_variants(demo, "CPUExecutionProvider")
    assert cpu == ("copgen-demo: fp32 (torchscript exporter, opset 17) for cpu, fp16 (dynamo "
                   "exporter, opset 23) for cuda; on cpu: fp32")
    assert model_variants(demo, "CUDAExecutionProvider").endswith("; on cuda: fp16")
