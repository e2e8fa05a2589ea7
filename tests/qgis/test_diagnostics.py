"""copgen:diagnostics through processing.run in a real QgsApplication."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy
import onnxruntime
import processing
import rasterio
from qgis.core import Qgis


def _report_table(path: Path) -> dict[str, str]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (\w+) \| (.*) \|$", line)
        if match and match.group(1) != "fact":
            rows[match.group(1)] = match.group(2).replace("\\|", "|")
    return rows


def test_diagnostics_reports_real_facts(copgen_plugin: Any, tmp_path: Path) -> None:
    report = tmp_path / "sub" / "report.md"
    result = processing.run("copgen:diagnostics", {"DEVICE": 0, "OUTPUT": str(report)})
    assert Path(result["OUTPUT"]) == report and report.is_file()
    assert not list(report.parent.glob("*.partial"))
    assert result["QGIS_VERSION"] == Qgis.QGIS_VERSION
    assert result["NUMPY_VERSION"] == numpy.__version__
    assert result["RASTERIO_VERSION"] == rasterio.__version__
    assert result["ONNXRUNTIME_VERSION"] == onnxruntime.__version__
    available = onnxruntime.get_available_providers()
    assert result["ORT_PROVIDER_USED"] in available
    assert result["ORT_AVAILABLE_PROVIDERS"].split(", ") == available
    assert result["ORT_PROBE"].startswith("ok")
    if "CUDAExecutionProvider" not in available:
        # asked for CUDA (auto) without getting it: the report must say so, not hide it
        assert result["ORT_PROVIDER_USED"] == "CPUExecutionProvider"
        assert "not obtained" in result["ORT_PROBE"]
    assert result["MISSING_DEPENDENCIES"] == "none"
    table = _report_table(report)
    for key, value in table.items():
        assert result[key.upper()] == value, key
    assert len(table) >= 15


def test_diagnostics_cpu_device_asks_for_cpu_only(copgen_plugin: Any, tmp_path: Path) -> None:
    result = processing.run("copgen:diagnostics", {"DEVICE": 2, "OUTPUT": str(tmp_path / "r.md")})
    assert result["ORT_REQUESTED_PROVIDERS"] == "CPUExecutionProvider"
    assert result["ORT_PROVIDER_USED"] == "CPUExecutionProvider"
    assert result["ORT_PROBE"] == "ok"


def test_diagnostics_lists_model_packages(copgen_plugin: Any, tmp_path: Path,
                                         monkeypatch: Any) -> None:
    models = tmp_path / "models"
    (models / "my-model").mkdir(parents=True)
    (models / "my-model" / "manifest.json").write_text(
        '{"model_id": "my-model", "model_version": "7", "demo": true}', encoding="utf-8")
    (models / "not-a-model").mkdir()
    monkeypatch.setenv("COPGEN_MODELS_DIR", str(models))
    result = processing.run("copgen:diagnostics", {"OUTPUT": str(tmp_path / "r.md")})
    assert result["MODEL_PACKAGES"].startswith("my-model 7 (demo) at ")
    assert "not-a-model" not in result["MODEL_PACKAGES"]


def test_diagnostics_runs_without_parameters_and_says_what_to_do(
        copgen_plugin: Any, tmp_path: Path, monkeypatch: Any) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("COPGEN_MODELS_DIR", str(models))
    result = processing.run("copgen:diagnostics", {})
    assert not result["OUTPUT"]
    assert result["NEXT_STEP"] == "run copgen:download_model (defaults: COP-GEN base)"
    assert result["REAL_MODEL"].startswith("none installed (only the demo model")
    assert "copgen:download_model gets COP-GEN base: a 4.5 GB download" in result["REAL_MODEL"]
    free, where = result["MODELS_FREE_DISK"].split(" GB free at ")
    assert where == str(models)
    assert abs(float(free) - shutil.disk_usage(tmp_path).free / 1e9) < 0.5
    assert float(result["MEMORY_TOTAL"].split()[0]) > 0

    (models / "base").mkdir(parents=True)
    (models / "base" / "manifest.json").write_text(
        '{"model_id": "copgen-base", "model_version": "500000"}', encoding="utf-8")
    ready = processing.run("copgen:diagnostics", {"DEVICE": 2})
    assert ready["REAL_MODEL"] == f"copgen-base 500000 at {models / 'base'}"
    assert ready["NEXT_STEP"] == "ready: run copgen:gapfill or copgen:generate"
