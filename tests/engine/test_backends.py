"""The CPU backends: OpenVINO runs the same .onnx as ONNX Runtime, reports its precision, falls
back to ONNX Runtime when it cannot, and can be switched off (real OpenVINO, real ORT)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from copgen_plugin.engine.backends import ENV_VAR, import_openvino
from copgen_plugin.engine.runtime import DenoiserSession, OnnxModel, RuntimeOptions
from copgen_plugin.errors import InputError, ModelLoadError
from tests.engine.helpers import cpu_has_bf16_units

needs_openvino = pytest.mark.skipif(
    import_openvino() is None,
    reason="openvino is not installed (pip install -r requirements/openvino.txt; make setup "
           "installs it on CPU machines)")


def _feeds(model: OnnxModel, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for name, shape in model.input_shapes().items():
        if name.startswith("t_"):
            feeds[name] = np.linspace(0, 999, batch, dtype=np.float32)
        else:
            feeds[name] = rng.standard_normal((batch, *shape[1:]), dtype=np.float32)
    return feeds


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(a))


@needs_openvino
def test_openvino_runs_the_same_denoiser_graph_in_the_cpus_precision(tiny_package):
    path = tiny_package / "denoiser.onnx"
    ort_model = OnnxModel(path, RuntimeOptions("cpu", cpu_backend="onnxruntime"), openvino=True)
    ov_model = OnnxModel(path, RuntimeOptions("cpu", intra_op_threads=2,
                                              cpu_backend="openvino"), openvino=True)
    precision = "bf16" if cpu_has_bf16_units() else "fp32"
    assert ov_model.label == f"cpu (OpenVINO {precision})" and ov_model.session is None
    assert ov_model.providers == [f"OpenVINO CPU {precision}"] and ov_model.device == "cpu"
    assert ort_model.label == "cpu (onnxruntime)"
    assert ort_model.providers == ["CPUExecutionProvider"]
    assert ov_model.input_names == ort_model.input_names
    assert ov_model.output_names == ort_model.output_names
    for name, shape in ort_model.input_shapes().items():  # batch dynamic, the rest equal
        assert ov_model.input_shapes()[name][1:] == shape[1:]
    for batch in (1, 3):  # dynamic batch: one compiled graph serves both
        feeds = _feeds(ort_model, batch)
        ref, got = ort_model.run(feeds), ov_model.run(feeds)
        assert len(got) == len(ref)
        for r, g in zip(ref, got, strict=True):
            assert g.shape == r.shape and g.dtype == np.float32
            assert _rel(r, g) < (0.15 if precision == "bf16" else 1e-4)  # the small 3-vectors
        whole = _rel(np.concatenate([r.ravel() for r in ref]),
                     np.concatenate([g.ravel() for g in got]))
        assert whole < 3e-2 if precision == "bf16" else whole < 1e-4
        assert precision == "fp32" or whole > 1e-5  # bf16 really ran
    again = ov_model.run(feeds)  # outputs are copies, not views of reused buffers
    assert all(np.array_equal(a, b) for a, b in zip(got, again, strict=True))


@needs_openvino
def test_denoiser_session_on_openvino_returns_eps_per_key(tiny_package):
    model = OnnxModel(tiny_package / "denoiser.onnx", RuntimeOptions("cpu", cpu_backend="auto"),
                      openvino=True)
    keys = [n[len("z_"):] for n in model.input_names if n.startswith("z_")]
    den = DenoiserSession(model, keys)
    assert den.io_binding is False
    feeds = _feeds(model, 2)
    eps = den({k: feeds[f"z_{k}"] for k in keys}, {k: feeds[f"t_{k}"] for k in keys})
    assert list(eps) == keys
    assert all(eps[k].shape == feeds[f"z_{k}"].shape and np.isfinite(eps[k]).all()
               for k in keys)


def test_graphs_not_marked_for_openvino_stay_on_onnxruntime(tiny_package):
    model = OnnxModel(tiny_package / "decoder_DEM_DEM.onnx",
                      RuntimeOptions("cpu", cpu_backend="openvino"))
    assert model.providers == ["CPUExecutionProvider"] and model.backend is None


def test_forced_onnxruntime_and_the_environment_switch(tiny_package, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "onnxruntime")
    options = RuntimeOptions("cpu")
    assert options.cpu_backend == "onnxruntime"
    model = OnnxModel(tiny_package / "denoiser.onnx", options, openvino=True)
    assert model.label == "cpu (onnxruntime)" and model.backend is None
    monkeypatch.setenv(ENV_VAR, "OpenVINO ")
    assert RuntimeOptions().cpu_backend == "openvino"
    monkeypatch.setenv(ENV_VAR, "tensorrt")
    with pytest.raises(InputError, match=f"{ENV_VAR} must be one of"):
        RuntimeOptions()
    with pytest.raises(InputError, match="cpu_backend must be one of"):
        RuntimeOptions(cpu_backend="gpu")  # type: ignore[arg-type]


def _graph_openvino_cannot_compile(path):
    """TfIdfVectorizer: a standard ONNX operator that ONNX Runtime runs and OpenVINO lacks."""
    onnx = pytest.importorskip("onnx")
    h = onnx.helper
    node = h.make_node("TfIdfVectorizer", ["x"], ["y"], max_gram_length=1, min_gram_length=1,
                       max_skip_count=0, mode="TF", ngram_counts=[0], ngram_indexes=[0, 1],
                       pool_int64s=[1, 2])
    graph = h.make_graph([node], "tfidf",
                         [h.make_tensor_value_info("x", onnx.TensorProto.INT64, [4])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@needs_openvino
def test_auto_falls_back_to_onnxruntime_when_openvino_cannot_compile(tmp_path, caplog):
    path = _graph_openvino_cannot_compile(tmp_path / "tfidf.onnx")
    with caplog.at_level(logging.WARNING, logger="copgen_plugin.engine.backends"):
        model = OnnxModel(path, RuntimeOptions("cpu", cpu_backend="auto"), name="tfidf",
                          openvino=True)
    assert model.label == "cpu (onnxruntime)"
    assert "OpenVINO cannot compile" in caplog.text and "falling back" in caplog.text
    (y,) = model.run({"x": np.array([1, 2, 2, 3], dtype=np.int64)})
    np.testing.assert_array_equal(y, [1.0, 2.0])  # term frequencies of 1 and 2
    with pytest.raises(ModelLoadError, match="tfidf: OpenVINO cannot compile"):
        OnnxModel(path, RuntimeOptions("cpu", cpu_backend="openvino"), name="tfidf",
                  openvino=True)


@needs_openvino
def test_the_run_report_says_openvino_ran_the_denoiser_and_in_which_precision(
        tiny_package, monkeypatch):
    from copgen_plugin.engine import CopgenEngine

    monkeypatch.delenv(ENV_VAR, raising=False)
    engine = CopgenEngine.open(tiny_package, RuntimeOptions("cpu"))
    try:
        engine.denoiser()
        precision = "bf16" if cpu_has_bf16_units() else "fp32"
        assert engine.variant_line == (
            f"fp32 (torchscript exporter, opset 17) on cpu, run by OpenVINO {precision}: "
            "made for cpu")
    finally:
        engine.close()
    monkeypatch.setenv(ENV_VAR, "onnxruntime")
    engine = CopgenEngine.open(tiny_package, RuntimeOptions("cpu"))
    try:
        engine.denoiser()
        assert engine.variant_line == "fp32 (torchscript exporter, opset 17) on cpu: made for cpu"
    finally:
        engine.close()
