"""Reliability fixtures: an isolated verification cache and models folder, and one tiny real
model package (random weights) holding every family the value checks look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

#: S2 L2A (10 m group) as the target; DEM, LULC and S1 as conditions
KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "LULC_LULC", "S1RTC_vh_vv", "S2L2A_B02_B03_B04_B08",
        "mean_timestamps"]


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Verification cache and the user models folder in a temp dir, never ~/ (the CLI
    subprocesses inherit them)."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        mp.setenv("COPGEN_MODELS_DIR", str(root / "models"))
        yield root


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "rel", KEYS, seed=0)
