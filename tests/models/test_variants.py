"""The GPU variant (issue 15): fp16 denoiser from the dynamo exporter at opset 23 beside the fp32
graphs; its graph (ONNX Attention, nothing computing shapes), its parity with the torch module
in fp32, the manifest that lists both, and the weights read back from an fp32 graph.

What runs here is ONNX Runtime's CPU provider (1.32 runs the fp16 Attention operator on the
CPU): the parity is the graph's arithmetic, not a CUDA kernel's (docs/GPU.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from copgen_plugin.engine.package import load_package
from models.manifest import GPU_DENOISER_FILE, read_manifest, sha256_of, verify_package
from models.onnx_export import SHAPE_OPS, check_gpu_graph
from models.tiny import tiny_denoiser
from models.variants import PARITY_TOLERANCE, backbone_from_graph, random_feeds, relative_errors
from tests.conftest import VARIANT_KEYS

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "models" / "copgen-demo"


def test_gpu_graph_has_fused_attention_and_no_shape_nodes(variants_package: Path) -> None:
    path = variants_package / GPU_DENOISER_FILE
    ops = check_gpu_graph(path)
    depth = tiny_denoiser(VARIANT_KEYS).config.depth
    assert ops["Attention"] == depth // 2 * 2 + 1  # one per block: in, mid, out
    assert not set(ops) & SHAPE_OPS and "MatMul" in ops
    graph = onnx.load(str(path))
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 23
    fp32 = [t for t in graph.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    fp16 = [t for t in graph.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert len(fp16) > 30  # every weight; only the timestep frequencies stay float32
    assert [list(t.dims) for t in fp32] == [[1, tiny_denoiser(VARIANT_KEYS).config.embed_dim
                                             // 2]]
    for value in [*graph.graph.input, *graph.graph.output]:  # float32 I/O, batch dynamic
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param and all(d.HasField("dim_value") for d in dims[1:])
    with pytest.raises(ValueError, match="no ONNX Attention node"):
        check_gpu_graph(variants_package / "denoiser.onnx")  # the TorchScript fp32 graph


def test_fp16_variant_matches_the_torch_module_in_fp32(variants_package: Path) -> None:
    model = tiny_denoiser(VARIANT_KEYS, seed=0)
    feeds = random_feeds(model, batch=3, seed=4)
    fp16 = relative_errors(model, variants_package / GPU_DENOISER_FILE, feeds)
    fp32 = relative_errors(model, variants_package / "denoiser.onnx", feeds)
    assert max(fp16.values()) <= PARITY_TOLERANCE, fp16
    assert max(fp32.values()) < 1e-5, fp32
    assert min(fp16.values()) > 10 * max(fp32.values())  # it really computes in fp16


def test_manifest_lists_both_variants_with_checksums(variants_package: Path) -> None:
    m = read_manifest(variants_package)
    assert m["default_variant"] == "fp32" == m["precision"]
    assert m["variants"] == {
        "fp32": {"precision": "fp32", "exporter": "torchscript", "opset": 17,
                 "devices": ["cpu"], "files": {}},
        "fp16": {"precision": "fp16", "exporter": "dynamo", "opset": 23, "devices": ["cuda"],
                 "files": {"denoiser": GPU_DENOISER_FILE}},
    }
    gpu = variants_package / GPU_DENOISER_FILE
    assert m["files"][GPU_DENOISER_FILE] == {"sha256": sha256_of(gpu),
                                             "bytes": gpu.stat().st_size}
    verify_package(variants_package)
    pkg = load_package(variants_package, verify="full")
    assert pkg.variant_file("fp16", "denoiser") == GPU_DENOISER_FILE
    assert pkg.variant_file("fp16", "encoder:DEM_DEM") == "encoder_DEM_DEM.onnx"  # fallback


def test_weights_read_back_from_the_fp32_graph(variants_package: Path) -> None:
    """The TorchScript graph's named and transposed (MatMul) initializers give back exactly
    the module it was exported from."""
    manifest = json.loads((variants_package / "manifest.json").read_text())
    rebuilt = backbone_from_graph(variants_package / "denoiser.onnx", manifest)
    original = tiny_denoiser(VARIANT_KEYS, seed=0)
    assert rebuilt.config == original.config
    for key, value in original.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key


def test_demo_package_gpu_variant_matches_its_fp32_weights() -> None:
    """The committed demo's fp16 denoiser was exported from its fp32 graph's weights
    (``python -m models.variants``); the fp32 graph is the demo's, unchanged."""
    manifest = json.loads((DEMO / "manifest.json").read_text())
    assert manifest["variants"]["fp16"]["files"] == {"denoiser": GPU_DENOISER_FILE}
    model = backbone_from_graph(DEMO / "denoiser.onnx", manifest)
    feeds = random_feeds(model, batch=2, seed=1)
    assert max(relative_errors(model, DEMO / "denoiser.onnx", feeds).values()) < 1e-5
    parity = relative_errors(model, DEMO / GPU_DENOISER_FILE, feeds)
    assert max(parity.values()) <= PARITY_TOLERANCE, parity
    check_gpu_graph(DEMO / GPU_DENOISER_FILE)
    assert np.isfinite(list(parity.values())).all()
