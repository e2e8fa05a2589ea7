"""Reliability fixtures: an isolated verification cache and models folder, and the tiny real
model package (random weights) the fill tests use (tests/conftest.py ``full_package``): it
holds every family the value checks look at; tests only read it (or copy it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fill.conftest import isolated_user_dirs, ten_m_package

__all__ = ["isolated_user_dirs", "ten_m_package"]


@pytest.fixture(scope="session")
def package(full_package: Path) -> Path:
    return full_package
