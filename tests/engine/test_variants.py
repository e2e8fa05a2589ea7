"""Graph variants at run time (issue 15): the manifest's variants parsed and checked, the choice
by the device the session actually got, a forced precision, the fallback of a variant ONNX
Runtime refuses, an older manifest without variants, and the bound-buffer (CUDA) path run on
the CPU. Real ONNX Runtime sessions on the tiny package with both variants and on the demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from copgen_plugin.engine.cuda_path import BoundRunner
from copgen_plugin.engine.generate import CopgenEngine
from copgen_plugin.engine.package import load_package, parse_manifest
from copgen_plugin.engine.requests import GenerationRequest
from copgen_plugin.engine.runtime import DenoiserSession, OnnxModel, RuntimeOptions
from copgen_plugin.engine.verify import sha256_of
from copgen_plugin.errors import InputError, ManifestError
from tests.conftest import VARIANT_KEYS

GPU_FILE = "denoiser_fp16.onnx"


@pytest.fixture(autouse=True)
def _onnxruntime_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variants' choice and parity are ONNX Runtime's; OpenVINO: test_backends.py."""
    monkeypatch.setenv("COPGEN_CPU_BACKEND", "onnxruntime")


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _rewrite(pkg: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = pkg / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def _feeds(batch: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    shapes = {"3d_cartesian_lat_lon": (1, 1, 3), "DEM_DEM": (8, 8, 8),
              "S1RTC_vh_vv": (8, 24, 24), "S2L2A_B01_B09": (8, 4, 4),
              "S2L2A_B02_B03_B04_B08": (8, 24, 24), "mean_timestamps": (1, 1, 3)}
    rng = np.random.default_rng(seed)
    z = {k: rng.standard_normal((batch, *shapes[k]), dtype=np.float32) for k in VARIANT_KEYS}
    t = {k: np.linspace(0.0, 900.0, batch, dtype=np.float32) for k in VARIANT_KEYS}
    return z, t


def test_the_cpu_gets_the_fp32_variant_and_a_forced_fp16_runs(variants_package: Path) -> None:
    pkg = load_package(variants_package)
    auto = CopgenEngine(pkg, RuntimeOptions("cpu"))
    den = auto.denoiser()
    assert auto.variant.variant.name == "fp32" and den.model.path.name == "denoiser.onnx"
    assert auto.variant_line == "fp32 (torchscript exporter, opset 17) on cpu: made for cpu"
    forced = CopgenEngine(pkg, RuntimeOptions("cpu", precision="fp16"))
    assert forced.denoiser().model.path.name == GPU_FILE
    assert forced.variant_line == "fp16 (dynamo exporter, opset 23) on cpu: fp16 asked for"
    z, t = _feeds(2, seed=0)
    a, b = den(z, t), forced.denoiser()(z, t)
    for key in VARIANT_KEYS:
        rel = np.linalg.norm(a[key] - b[key]) / np.linalg.norm(a[key])
        assert 1e-6 < rel < 5e-3, (key, rel)


def test_cuda_asked_for_without_a_cuda_provider_says_why(variants_package: Path) -> None:
    engine = CopgenEngine(load_package(variants_package), RuntimeOptions("cuda"))
    engine.denoiser()
    assert engine.variant.variant.name == "fp32" and engine.variant.device == "cpu"
    assert "CUDA asked for, but this onnxruntime has no CUDA provider" in engine.variant_line


def test_a_variant_onnx_runtime_refuses_falls_back_to_the_default(
        variants_package: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An fp16 graph this onnxruntime cannot load (here: an opset from the future, as an
    older onnxruntime sees opset 23) -> the fp32 variant, with the reason logged and reported."""
    pkg_dir = _copy(variants_package, tmp_path / "pkg")
    graph = onnx.load(str(pkg_dir / GPU_FILE))
    for op in graph.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = 99
    onnx.save(graph, str(pkg_dir / GPU_FILE))
    gpu = pkg_dir / GPU_FILE
    _rewrite(pkg_dir, lambda m: m["files"].update(
        {GPU_FILE: {"sha256": sha256_of(gpu), "bytes": gpu.stat().st_size}}))
    engine = CopgenEngine(load_package(pkg_dir), RuntimeOptions("cpu", precision="fp16"))
    out = engine.generate(GenerationRequest(targets=("DEM_DEM",), n_samples=1, steps=2, seed=1))
    assert out.samples["DEM_DEM"].shape == (1, 1, 64, 64)
    assert engine.denoiser().model.path.name == "denoiser.onnx"
    line = engine.variant_line
    assert line.startswith("fp32 (torchscript exporter, opset 17) on cpu: fp16 did not load (")
    assert line.endswith("; fell back to fp32")
    assert "fell back to fp32" in caplog.text


def test_a_manifest_without_variants_keeps_loading(variants_package: Path,
                                                   tmp_path: Path) -> None:
    pkg_dir = _copy(variants_package, tmp_path / "old")
    (pkg_dir / GPU_FILE).unlink()

    def old(m: dict) -> None:  # type: ignore[type-arg]
        del m["variants"], m["default_variant"], m["files"][GPU_FILE]
    _rewrite(pkg_dir, old)
    pkg = load_package(pkg_dir, verify="full")
    assert list(pkg.variants) == ["fp32"] and pkg.variants["fp32"].devices == ("cpu", "cuda")
    for precision in ("auto", "fp16"):
        engine = CopgenEngine(pkg, RuntimeOptions("cpu", precision=precision))
        assert engine.denoiser().model.path.name == "denoiser.onnx"
    assert engine.variant_line == ("fp32 on cpu: fp16 asked for, but this package has only "
                                   "fp32: using fp32")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m["variants"]["fp16"]["files"].update(denoiser="absent.onnx"),
     "variant 'fp16' denoiser 'absent.onnx' is not listed in 'files'"),
    (lambda m: m["variants"]["fp16"]["files"].update({"encoder:S3_OLCI": GPU_FILE}),
     "variant 'fp16' overrides unknown role 'encoder:S3_OLCI'"),
    (lambda m: m["variants"]["fp16"].update(precision="int4"),
     "variant 'fp16' has precision 'int4'"),
    (lambda m: m["variants"]["fp16"].update(devices=["tpu"]),
     "variant 'fp16' devices must be a non-empty list"),
    (lambda m: m.update(default_variant="fp64"),
     "default_variant 'fp64' is not one of the variants"),
    (lambda m: m.update(default_variant="fp16"),
     "the default variant 'fp16' must use the default files"),
    (lambda m: m.update(variants={f"v{i}": {"precision": "fp32"} for i in range(17)}),
     "17 graph variants; the limit is 16"),
])
def test_bad_variant_tables_are_refused_by_name(variants_package: Path, edit,  # type: ignore[no-untyped-def]
                                                message: str) -> None:
    manifest = json.loads((variants_package / "manifest.json").read_text())
    edit(manifest)
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_manifest(variants_package, manifest)


def test_a_bad_precision_is_refused() -> None:
    with pytest.raises(InputError, match="precision must be one of"):
        RuntimeOptions("cpu", precision="fp8")  # type: ignore[arg-type]


def test_bound_buffers_per_batch_shape_and_constants_uploaded_once(
        variants_package: Path) -> None:
    """The CUDA path's fixed buffers, run on the CPU device: the same numbers as a plain run
    for two batch shapes, one binding per shape reused, and a constant input uploaded once per
    :meth:`keep_on_device` (changing it in place is not seen until it is registered again)."""
    model = OnnxModel(variants_package / "denoiser.onnx", RuntimeOptions("cpu"))
    plain = DenoiserSession(model, VARIANT_KEYS)
    bound = DenoiserSession(model, VARIANT_KEYS, io_binding=True)
    for batch in (2, 3, 2):
        z, t = _feeds(batch, seed=batch)
        expected, got = plain(z, t), bound(z, t)
        for key in VARIANT_KEYS:
            np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=1e-6)
    runner = bound._runner
    assert isinstance(runner, BoundRunner) and sorted(runner._slots) == [2, 3]
    z, t = _feeds(2, seed=7)
    bound.keep_on_device({"DEM_DEM": z["DEM_DEM"]})
    first = bound(z, t)
    z["DEM_DEM"] += 1.0  # same object, new values: the device copy is not refreshed
    np.testing.assert_array_equal(bound(z, t)["DEM_DEM"], first["DEM_DEM"])
    bound.keep_on_device({"DEM_DEM": z["DEM_DEM"]})  # registered again: uploaded again
    np.testing.assert_allclose(bound(z, t)["DEM_DEM"], plain(z, t)["DEM_DEM"], atol=1e-6)
    assert not np.allclose(bound(z, t)["DEM_DEM"], first["DEM_DEM"])
