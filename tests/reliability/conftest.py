"""Reliability fixtures: an isolated verification cache and models folder, and the tiny real
model package (random weights) the fill tests use (tests/conftest.py ``full_package``): it
holds every family the value checks look at; tests only read it (or copy it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fill.conftest import ten_m_package

__all__ = ["ten_m_package"]


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
def package(full_package: Path) -> Path:
    return full_package
