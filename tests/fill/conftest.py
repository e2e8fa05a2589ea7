"""Fill test fixtures: tiny real model packages (built once per session by models/) and an
isolated verification cache and models folder. ``full_package`` lives in tests/conftest.py
(tests/reliability uses the same build)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
def ten_m_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "ten_m", TEN_M_KEYS, seed=0)
