"""ONNX Runtime sessions: real graphs, clear errors for broken files, providers read back."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.engine.errors import InputError, ModelLoadError
from copgen_plugin.engine.runtime import OnnxModel, RuntimeOptions

REPO = Path(__file__).resolve().parents[2]


def test_truncated_onnx_file_gives_a_clear_error(tiny_package, tmp_path):
    broken = tmp_path / "denoiser.onnx"
    broken.write_bytes((tiny_package / "denoiser.onnx").read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match=r"cannot load .*denoiser\.onnx"):
        OnnxModel(broken, RuntimeOptions("cpu"))


def test_garbage_and_missing_onnx_files_give_clear_errors(tmp_path):
    garbage = tmp_path / "encoder.onnx"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelLoadError, match="corrupted, truncated or not an ONNX graph"):
        OnnxModel(garbage, RuntimeOptions("cpu"))
    with pytest.raises(ModelLoadError, match="not found"):
        OnnxModel(tmp_path / "absent.onnx", RuntimeOptions("cpu"))


def test_providers_are_read_back_and_threads_applied(tiny_package):
    model = OnnxModel(tiny_package / "decoder_DEM_DEM.onnx",
                      RuntimeOptions("cpu", intra_op_threads=1))
    assert model.providers == ["CPUExecutionProvider"] and model.device == "cpu"
    assert model.session.get_session_options().intra_op_num_threads == 1
    (out,) = model.run({"latent": np.zeros((2, 8, 8, 8), np.float32)})
    assert out.shape == (2, 1, 64, 64) and np.isfinite(out).all()


def test_cuda_requested_without_cuda_warns_and_runs_on_cpu(tiny_package, caplog):
    with caplog.at_level(logging.WARNING, logger="copgen_plugin.engine.runtime"):
        model = OnnxModel(tiny_package / "decoder_DEM_DEM.onnx", RuntimeOptions("cuda"))
    if model.on_cuda:  # pragma: no cover - only on a CUDA machine
        pytest.skip("this machine has CUDA")
    assert model.cuda_fallback and model.providers == ["CPUExecutionProvider"]
    assert "CUDA was requested" in caplog.text


def test_interface_check_names_the_input(tiny_package):
    model = OnnxModel(tiny_package / "decoder_DEM_DEM.onnx", RuntimeOptions("cpu"))
    model.check_interface({"latent": (8, 8, 8)}, {"image": (1, 64, 64)})
    with pytest.raises(ModelLoadError, match="no input 'z'"):
        model.check_interface({"z": (8, 8, 8)}, {})
    with pytest.raises(ModelLoadError, match="output 'image' has per-sample shape"):
        model.check_interface({}, {"image": (2, 64, 64)})


def test_bad_device_is_an_input_error():
    with pytest.raises(InputError, match="device"):
        RuntimeOptions("tpu")


def test_importing_the_engine_does_not_import_onnxruntime():
    code = ("import sys, copgen_plugin.engine.generate, copgen_plugin.engine.package; "
            "print('onnxruntime' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
