"""Engine test fixtures: the parity kit and the official modality table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copgen_plugin.engine.package import ModelPackage, parse_manifest
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
