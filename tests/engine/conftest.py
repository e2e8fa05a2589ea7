"""Engine test fixtures: the parity kit and the official modality table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from copgen_plugin.engine.package import ModelPackage, parse_manifest
from tests.engine.helpers import load_cases, official_manifest


@pytest.fixture(scope="session")
def cases() -> Any:
    return load_cases()


@pytest.fixture(scope="session")
def table() -> ModelPackage:
    """The official 12-modality table parsed by the engine's own manifest parser."""
    return parse_manifest(Path("/nonexistent"), official_manifest())
