"""Scale test fixtures: a tiny real package, an isolated cache and models folder (inherited
by the workers a test starts), and small real scenes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# dask itself, imported before pytest imports the repository's own __init__.py (the QGIS
# plugin entry) as a package named after the checkout folder: a checkout in a folder called
# "dask" would otherwise shadow it
pytest.importorskip("dask")

#: a demo-like package: the 10 m S2 L2A group, lat/lon and date
KEYS = ["3d_cartesian_lat_lon", "S2L2A_B02_B03_B04_B08", "mean_timestamps"]


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Verification cache and models folder in a temp dir, never ~/ (workers inherit it)."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        mp.setenv("COPGEN_MODELS_DIR", str(root / "models"))
        yield root


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "ten_m", KEYS, seed=0)
