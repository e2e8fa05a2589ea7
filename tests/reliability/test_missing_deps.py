"""Case 10 of issue 13: ``python -m copgen_plugin`` in QGIS's Python without the run-time
packages says what to install, in one error line (it used to end in a ModuleNotFoundError
traceback). Only public entry points: a subprocess of Debian's Python on this checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.install.pip_helpers import REPO, bare_python, clean_pip_environ

__all__ = ["bare_python"]  # the fixture used here


def test_cli_without_run_time_packages_says_how_to_install(bare_python: Path,
                                                           tmp_path: Path) -> None:
    """Issue 13 case 10: the install hint, not a ModuleNotFoundError traceback."""
    env = clean_pip_environ()
    env["COPGEN_DEPS_DIR"] = str(tmp_path / "none")
    proc = subprocess.run([str(bare_python), "-m", "copgen_plugin", "gapfill", "in.tif",
                           "--model", "copgen-demo", "--out-filled", str(tmp_path / "f.tif"),
                           "--out-spread", str(tmp_path / "s.tif"), "--out-samples",
                           str(tmp_path / "samples")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: COP-GEN needs the Python package(s) onnxruntime, "
                                  "rasterio, huggingface_hub")
    assert "python -m copgen_plugin install-deps" in proc.stderr
    assert not list(tmp_path.glob("*.tif")) and not (tmp_path / "samples").exists()
