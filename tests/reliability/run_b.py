"""The CLI in a subprocess, and the scene the value / package cases start from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.fill.helpers import smooth_s2, write_tif

REPO = Path(__file__).resolve().parents[2]
#: the 10 m group of the tiny package, in file order
S2_BANDS = ["B02", "B03", "B04", "B08"]
SHAPE = (60, 70)


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m copgen_plugin ARGS`` with this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "copgen_plugin", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=full_env)


def outputs(out: Path) -> list[object]:
    """The three output options, all under ``out`` (which does not exist before the run)."""
    return ["--out-filled", out / "filled.tif", "--out-spread", out / "spread.tif",
            "--out-samples", out / "samples"]


def s2_values() -> np.ndarray:
    """Plausible S2 L2A digital numbers (int16) with a square gap of zeros (nodata 0)."""
    s2 = smooth_s2(SHAPE, len(S2_BANDS))
    s2[:, 20:40, 25:45] = 0
    return s2


def s2_layer(folder: Path, data: np.ndarray | None = None, name: str = "s2.tif") -> Path:
    """An S2 L2A layer with band descriptions (nodata 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_tif(folder / name, s2_values() if data is None else data, nodata=0,
                     descriptions=S2_BANDS)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit status 1 and exactly one ``error:`` line, no traceback; returns that line."""
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]
