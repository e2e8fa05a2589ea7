"""Fill test fixtures: tiny real model packages (built once per session by models/) and an
isolated verification cache and models folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

#: S2 L2A gap filling with every condition the issue names (DEM, S1, LULC), all on real shapes
FULL_KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "LULC_LULC", "S1RTC_vh_vv", "S2L2A_B01_B09",
             "S2L2A_B02_B03_B04_B08", "S2L2A_B05_B06_B07_B11_B12_B8A", "mean_timestamps"]
#: a demo-like package: the 10 m S2 L2A group only
TEN_M_KEYS = ["3d_cartesian_lat_lon", "S2L2A_B02_B03_B04_B08", "mean_timestamps"]


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Package verification cache and the user models folder in a temp dir, never ~/."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        mp.setenv("COPGEN_MODELS_DIR", str(root / "models"))
        yield root


@pytest.fixture(scope="session")
def full_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "full", FULL_KEYS, seed=0)


@pytest.fixture(scope="session")
def ten_m_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "ten_m", TEN_M_KEYS, seed=0)
