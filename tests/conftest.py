"""Shared test facts: where the repository, the shared folder and the venv are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; tests that need it skip with a reason when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"../shared/data is absent ({SHARED}): real-data test skipped")
    return SHARED
