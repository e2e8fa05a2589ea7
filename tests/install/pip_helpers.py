"""Fixtures and helpers of the dependency installer tests (test modules import them): a cached
local wheel folder, the bare QGIS Python, a clean pip environment (the wheel folder must be the
only source), a fake nvidia-smi."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Debian's Python, the one QGIS embeds; it has none of the run-time packages.
SYSTEM_PYTHON = Path("/usr/bin/python3")
PIP_VARS = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT",
            "PIP_NO_INDEX", "PIP_REQUIRE_VIRTUALENV")


def _python_key() -> str:
    sys.path.insert(0, str(REPO / "copgen_plugin" / "install"))
    try:
        from interpreter import python_key
    finally:
        sys.path.pop(0)
    return python_key()


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """build/wheelhouse/<python key>: `pip download` of the pinned CPU run-time requirements for
    this Python, made once (from PyPI) and reused while the requirement files are unchanged."""
    reqs = [REPO / "requirements" / n for n in ("runtime.txt", "runtime-cpu.txt",
                                                 "constraints.txt", "openvino.txt")]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in reqs)).hexdigest()
    folder = REPO / "build" / "wheelhouse" / _python_key()
    stamp = folder / ".requirements-sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary",
                           ":all:", "-d", str(folder), "-r", str(reqs[0]), "-r", str(reqs[1]),
                           "-r", str(reqs[3]), "-c", str(reqs[2])],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    stamp.write_text(digest)
    return folder


@pytest.fixture(scope="session")
def bare_python() -> Path:
    """QGIS's Python without the run-time packages (the state the installer is for)."""
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"{SYSTEM_PYTHON} is absent")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import rasterio"], capture_output=True,
                           env={"PATH": "/usr/bin:/bin"})
    if probe.returncode == 0:
        pytest.skip(f"{SYSTEM_PYTHON} already has rasterio: nothing for the installer to do")
    return SYSTEM_PYTHON


def clean_pip_environ() -> dict[str, str]:
    """os.environ without pip configuration: the wheel folder or index a test gives is all."""
    env = {k: v for k, v in os.environ.items() if k not in PIP_VARS and k != "PYTHONPATH"}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.fixture
def pip_clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Clean pip environment, a fresh COPGEN_DEPS_DIR (returned) and a PATH whose only
    nvidia-smi is none (the test machine may have a GPU)."""
    for var in (*PIP_VARS, "PYTHONPATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    root = tmp_path / "deps"
    monkeypatch.setenv("COPGEN_DEPS_DIR", str(root))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    return root


def fake_nvidia_smi(folder: Path, *, output: str, status: int = 0) -> Path:
    """An `nvidia-smi` executable in `folder` printing `output` and exiting with `status`."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\ncat <<'OUT'\n{output}\nOUT\nexit {status}\n")
    exe.chmod(0o755)
    return exe
