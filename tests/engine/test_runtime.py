"""ONNX Runtime sessions: real graphs, clear errors for broken files, providers read back."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.engine.runtime import OnnxModel, RuntimeOptions
from copgen_plugin.errors import InputError, ModelLoadError

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


def test_io_binding_path_gives_the_same_noise_prediction(tiny_package):
    """The CUDA path's I/O binding code, run on the CPU device, matches a plain run."""
    from copgen_plugin.engine.runtime import DenoiserSession
    from tests.engine.conftest import TINY_KEYS

    model = OnnxModel(tiny_package / "denoiser.onnx", RuntimeOptions("cpu"))
    rng = np.random.default_rng(0)
    shapes = {"3d_cartesian_lat_lon": (1, 1, 3), "DEM_DEM": (8, 8, 8), "S1RTC_vh_vv": (8, 24, 24),
              "S2L2A_B01_B09": (8, 4, 4), "S2L2A_B02_B03_B04_B08": (8, 24, 24),
              "mean_timestamps": (1, 1, 3)}
    z = {k: rng.standard_normal((2, *shapes[k]), dtype=np.float32) for k in TINY_KEYS}
    t = {k: np.array([0.0, 500.0], np.float32) for k in TINY_KEYS}
    plain = DenoiserSession(model, TINY_KEYS)(z, t)
    bound = DenoiserSession(model, TINY_KEYS, io_binding=True)
    bound.keep_on_device({"DEM_DEM": z["DEM_DEM"]})
    first, second = bound(z, t), bound(z, t)
    for key in TINY_KEYS:
        np.testing.assert_allclose(first[key], plain[key], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(second[key], first[key])
    assert not np.allclose(plain["DEM_DEM"][0], plain["DEM_DEM"][1])
