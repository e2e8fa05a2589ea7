"""Driving the CLI in a subprocess on tiny real rasters, and folder snapshots (names, sizes,
SHA-256) to show that a failed, cancelled or killed run left a folder exactly as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.fill.helpers import cloud_mask, smooth_s2, write_tif

REPO = Path(__file__).resolve().parents[2]
BANDS = "B02,B03,B04,B08"


def snapshot(folder: Path) -> dict[str, tuple[int, str] | None]:
    """Every entry under ``folder``: relative path -> (size, sha256), None for folders."""
    out: dict[str, tuple[int, str] | None] = {}
    if not folder.exists():
        return out
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = None if p.is_dir() else (p.stat().st_size,
                                           hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def cli_args(*args: object) -> list[str]:
    return [sys.executable, "-m", "copgen_plugin", *map(str, args)]


def cli(*args: object, preexec: object = None, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(*args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=cli_env(), preexec_fn=preexec)  # type: ignore[arg-type]


def s2_with_gap(path: Path, shape: tuple[int, int] = (64, 64), seed: int = 3) -> Path:
    """A 4-band int16 S2 layer (B02, B03, B04, B08) with a cloud-shaped nodata gap."""
    data = smooth_s2(shape, 4, seed=seed)
    data[:, cloud_mask(shape, seed=seed)] = 0
    return write_tif(path, data, nodata=0, descriptions=BANDS.split(","))


def outs(folder: Path, samples: str = "samples") -> list[object]:
    return ["--out-filled", folder / "filled.tif", "--out-spread", folder / "spread.tif",
            "--out-samples", folder / samples]


def out_folder(folder: Path) -> Path:
    """An existing, empty output folder: the case is then judged on its own, not on whether
    the tool creates a missing folder (the CLI before issue 13 required it to exist)."""
    folder.mkdir(parents=True)
    return folder


def gapfill(target: Path, model: Path | str, out: Path, *extra: object,
            samples: int = 2, steps: int = 2) -> list[object]:
    """The arguments of a small gap fill run."""
    return ["gapfill", target, "--model", model, *outs(out), "--bands", BANDS,
            "--samples", samples, "--steps", steps, "--device", "cpu", "--date", "2021-06-01",
            "--quiet", *extra]


def one_error_line(stderr: str, *fragments: str) -> str:
    """The run's single ``error:`` line (no traceback), holding every fragment."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def no_partials(*folders: Path) -> None:
    for folder in folders:
        if folder.exists():
            left = [p.name for p in folder.rglob("*") if ".partial-" in p.name]
            assert not left, left


def same(before: Sequence[dict], after: Sequence[dict]) -> None:
    for b, a in zip(before, after, strict=True):
        assert a == b


def tiny_inputs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return s2_with_gap(folder / "s2.tif")


