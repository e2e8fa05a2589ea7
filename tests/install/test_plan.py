"""ONNX Runtime flavour from the probe input (a fake nvidia-smi on PATH) and the pinned plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgen_plugin.install.deps import parse_version
from copgen_plugin.install.interpreter import find_python, python_key
from copgen_plugin.install.plan import PlanError, choose_flavour, make_plan
from tests.install.pip_helpers import fake_nvidia_smi

GPU_LIST = "GPU 0: NVIDIA H200 (UUID: GPU-1b2c3d4e-0000-1111-2222-333344445555)"


def test_gpu_present_gives_onnxruntime_gpu_with_cuda_wheels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nvidia_smi(tmp_path / "bin", output=GPU_LIST)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert choose_flavour("auto") == ("gpu", "NVIDIA GPU found by nvidia-smi: NVIDIA H200")
    plan = make_plan("auto", numpy_version="1.24.2")
    assert "onnxruntime-gpu[cuda,cudnn]==1.31.1" in plan.requirements
    assert not any(r.startswith("onnxruntime==") for r in plan.requirements)
    assert "numpy==1.24.2" in plan.constraints and "numpy<2" not in plan.constraints
    cpu = make_plan("cpu", numpy_version="1.24.2")  # the override wins over the probe
    assert "onnxruntime==1.32.0" in cpu.requirements
    assert not any(r.startswith("onnxruntime-gpu") for r in cpu.requirements)
    # OpenVINO (the CPU's fast runtime for the denoiser) comes with the CPU flavour only
    assert "openvino==2026.4.1" in cpu.requirements
    assert not any(r.startswith("openvino") for r in plan.requirements)
    assert cpu.requirements_hash != plan.requirements_hash


@pytest.mark.parametrize("status,output", [
    (9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
    (0, "No devices were found"),
])
def test_driverless_nvidia_smi_gives_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         status: int, output: str) -> None:
    fake_nvidia_smi(tmp_path / "bin", output=output, status=status)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    flavour, reason = choose_flavour("auto")
    assert flavour == "cpu" and "no NVIDIA GPU" in reason
    assert "onnxruntime==1.32.0" in make_plan("auto", numpy_version="").requirements


def test_no_nvidia_smi_gives_cpu_and_unknown_flavour_is_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert choose_flavour("auto")[0] == "cpu"
    with pytest.raises(PlanError, match="flavour must be one of"):
        choose_flavour("tpu")


def test_the_interpreter_found_is_this_python(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """A candidate that is not this Python (here a script that is no python) is passed over
    with the reason; the one chosen has this Python's key."""
    bogus = tmp_path / "python3"
    bogus.write_text("#!/bin/sh\necho not json\n")
    bogus.chmod(0o755)
    monkeypatch.setenv("COPGEN_PYTHON", str(bogus))
    info, tried = find_python()
    assert info is not None and info.key == python_key()
    assert info.executable != bogus and f"{bogus}: does not run" in tried
    assert info.numpy and info.pip


@pytest.mark.parametrize("text,expected", [
    ("1.4.4", (1, 4, 4)), ("1.32.0", (1, 32, 0)), ("2.13.0+cpu", (2, 13, 0)),
    ("1.5.0rc1", (1, 5, 0)), ("0.36.2.dev3", (0, 36, 2)), ("23.0.1", (23, 0, 1)), ("", ()),
])
def test_versions_compare_by_release_numbers(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected
