"""copgen:install_dependencies and copgen:diagnostics through the real qgis_process.bin, with
QGIS's Python as Debian ships it (no venv on PYTHONPATH) and a local wheel folder as the only
package source."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from qgis_env import PLUGIN_NAME, QGIS_PYTHON_PLUGINS, make_plugins_dir, subprocess_env

from tests.install.pip_helpers import PIP_VARS, bare_python, wheelhouse

__all__ = ["bare_python", "wheelhouse"]
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _results(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])["results"]


@pytest.mark.slow
def test_install_dependencies_then_diagnostics_without_parameters(
        tmp_path: Path, wheelhouse: Path, bare_python: Path) -> None:
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    for var in PIP_VARS:
        env.pop(var, None)
    env.update(PYTHONPATH=str(QGIS_PYTHON_PLUGINS), PIP_CONFIG_FILE=os.devnull,
               COPGEN_DEPS_DIR=str(tmp_path / "deps"), PATH="/usr/bin:/bin")
    assert _run(env, "plugins", "enable", PLUGIN_NAME).returncode == 0

    before = _results(_run(env, "run", "copgen:diagnostics", "--json"))
    assert before["MISSING_DEPENDENCIES"] == "onnxruntime, rasterio, huggingface_hub"
    assert before["DEPS_STATE"] == "absent"
    assert before["NEXT_STEP"].startswith("install the dependencies: copgen:install_dependencies")
    assert not before["OUTPUT"]  # no report file was asked for, none written
    assert before["PYTHON_FOR_PIP"].startswith("/usr/bin/python3")

    installed = _results(_run(env, "run", "copgen:install_dependencies", "--json", "--",
                              f"FIND_LINKS={wheelhouse}"))
    folder = Path(installed["FOLDER"])
    assert installed["STATUS"] == "installed" and installed["FLAVOUR_USED"] == "cpu"
    assert folder.parent == tmp_path / "deps" and (folder / "copgen-deps.json").is_file()
    assert "onnxruntime==1.32.0" in installed["PACKAGES"].split()

    after = _results(_run(env, "run", "copgen:diagnostics", "--json"))
    assert after["MISSING_DEPENDENCIES"] == "none"
    assert after["DEPS_FOLDER"] == str(folder)
    assert after["DEPS_STATE"].startswith("ok: cpu build")
    assert after["ONNXRUNTIME_VERSION"] == "1.32.0" and after["RASTERIO_VERSION"] == "1.4.4"
    assert after["ORT_PROVIDER_USED"] == "CPUExecutionProvider"
    assert after["ORT_PROBE"].startswith("ok")
    assert after["NEXT_STEP"] == "run copgen:download_model (defaults: COP-GEN base)"
    assert "copgen:download_model gets COP-GEN base: a 4.5 GB download" in after["REAL_MODEL"]
    assert not list((tmp_path / "deps").glob("*.staging-*"))
