"""copgen:diagnostics through the real qgis_process.bin with a throwaway profile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import onnxruntime
from qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env

QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the Debian wrapper breaks (QGIS_ENV.md #1)


def _json_from(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])


def test_qgis_process_runs_diagnostics(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", PLUGIN_NAME], env=env,
                            capture_output=True, text=True, timeout=180)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    report = tmp_path / "diag.md"
    run = subprocess.run(
        [QGIS_PROCESS, "run", "copgen:diagnostics", "--json", "--", "DEVICE=2",
         f"OUTPUT={report}"], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    data = _json_from(run.stdout)
    assert data["algorithm_details"]["id"] == "copgen:diagnostics"
    results = data["results"]
    assert results["OUTPUT"] == str(report) and report.is_file()
    assert results["ORT_PROVIDER_USED"] == "CPUExecutionProvider"
    assert results["ORT_PROVIDER_USED"] in onnxruntime.get_available_providers()
    assert results["ONNXRUNTIME_VERSION"] == onnxruntime.__version__
    assert results["QGIS_VERSION"].startswith("3.")
    assert "| ort_provider_used | CPUExecutionProvider |" in report.read_text()
