"""Scale test fixtures: a tiny real package, an isolated cache and models folder (inherited
by the workers a test starts), and small real scenes."""

from __future__ import annotations

from pathlib import Path

import pytest

# dask itself, imported before pytest imports the repository's own __init__.py (the QGIS
# plugin entry) as a package named after the checkout folder: a checkout in a folder called
# "dask" would otherwise shadow it
pytest.importorskip("dask")

from tests.fill.conftest import isolated_user_dirs, ten_m_package  # one build, one isolation

__all__ = ["isolated_user_dirs", "ten_m_package"]


@pytest.fixture(scope="session")
def package(ten_m_package: Path) -> Path:
    """The fill tests' demo-like package (the 10 m S2 L2A group, lat/lon and date)."""
    return ten_m_package
