"""Engine test fixtures: the parity kit and the official modality table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copgen_plugin.engine.generate import CopgenEngine
from copgen_plugin.engine.package import ModelPackage, load_package, parse_manifest
from copgen_plugin.engine.runtime import RuntimeOptions
from tests.engine.helpers import KIT, load_cases, official_manifest


@pytest.fixture(scope="session")
def cases() -> Any:
    return load_cases()


@pytest.fixture(scope="session")
def table() -> ModelPackage:
    """The official 12-modality table parsed by the engine's own manifest parser."""
    return parse_manifest(Path("/nonexistent"), official_manifest())


@pytest.fixture(scope="session")
def kit_denoiser_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parity kit's ``nnet_tiny.pth`` exported to ONNX with the models/ exporter (once)."""
    torch = pytest.importorskip("torch")
    from models.checkpoints import load_state_dict_file, load_strict
    from models.configs import BackboneConfig
    from models.denoiser import CopgenUViT
    from models.onnx_export import export_denoiser

    torch.set_num_threads(2)
    cfg = json.loads((KIT / "nnet_tiny_config.json").read_text())
    model = CopgenUViT(BackboneConfig.from_official_kwargs(cfg["constructor_kwargs"]))
    load_strict(model, load_state_dict_file(KIT / "nnet_tiny.pth"), "nnet_tiny.pth")
    path = tmp_path_factory.mktemp("kit") / "denoiser.onnx"
    export_denoiser(model.eval(), path)
    return path


#: the tiny package's modalities: both scalars, a 10 m, a 60 m and a 30 m image grid
TINY_KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "S1RTC_vh_vv", "S2L2A_B01_B09",
             "S2L2A_B02_B03_B04_B08", "mean_timestamps"]


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight package built by models/ (real ONNX graphs, real shapes)."""
    pytest.importorskip("torch")
    from models.tiny import build_tiny_package

    return build_tiny_package(tmp_path_factory.mktemp("pkg") / "tiny", TINY_KEYS, seed=0)


@pytest.fixture(scope="session")
def engine(tiny_package: Path, tmp_path_factory: pytest.TempPathFactory) -> CopgenEngine:
    options = RuntimeOptions(device="cpu", intra_op_threads=2)
    cache = tmp_path_factory.mktemp("cache") / "verified.json"
    return CopgenEngine(load_package(tiny_package, cache_path=cache), options)
