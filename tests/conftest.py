"""Shared test facts: where the repository, the shared folder and the venv are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
#: S2 L2A gap filling with every condition the issue names (DEM, S1, LULC), all on real shapes
FULL_KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "LULC_LULC", "S1RTC_vh_vv", "S2L2A_B01_B09",
             "S2L2A_B02_B03_B04_B08", "S2L2A_B05_B06_B07_B11_B12_B8A", "mean_timestamps"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; tests that need it skip with a reason when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"../shared/data is absent ({SHARED}): real-data test skipped")
    return SHARED


@pytest.fixture(scope="session")
def full_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight package with every family the fill and reliability tests use,
    built once per session (tests/fill, tests/reliability); tests only read it."""
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "full", FULL_KEYS, seed=0)


#: the engine tests' tiny modalities: both scalars, a 10 m, a 60 m and a 30 m image grid
VARIANT_KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "S1RTC_vh_vv", "S2L2A_B01_B09",
                "S2L2A_B02_B03_B04_B08", "mean_timestamps"]


@pytest.fixture(scope="session")
def variants_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny package with both graph variants: the fp32 graphs and the fp16 CUDA denoiser
    (dynamo exporter, opset 23), built once per session (tests/models, tests/engine)."""
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "variants", VARIANT_KEYS,
                              seed=0, gpu_variant=True)
