"""What to install: the pinned run-time requirements, the ONNX Runtime flavour, the pins.

The pins come from the plugin's ``requirements/`` files (the same ones the developer set-up
uses): runtime.txt plus runtime-cpu.txt or runtime-gpu.txt, never both, since onnxruntime and
onnxruntime-gpu share an import name; the CPU flavour adds openvino.txt (the engine runs the
denoiser on OpenVINO where it is importable: 1.7-3.6x faster than ONNX Runtime fp32 on an AMX
CPU). The GPU flavour is chosen when ``nvidia-smi -L`` lists a GPU (driver present); it takes
the CUDA and cuDNN wheels through the ``[cuda,cudnn]`` extra so no system CUDA is needed. numpy
is pinned to the version QGIS's Python already has.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import CopgenError
from ..model_store import PLUGIN_ROOT

REQUIREMENTS_DIR = PLUGIN_ROOT / "requirements"
FLAVOURS = ("auto", "cpu", "gpu")
GPU_EXTRAS = "[cuda,cudnn]"


class PlanError(CopgenError):
    """The requirement files are missing or the flavour cannot be honoured."""


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file (comments and blanks dropped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"the plugin's requirement file {path} is missing ({exc}): reinstall "
                        "the plugin from its ZIP") from exc
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines()
            if ln.split("#", 1)[0].strip()]


def detect_nvidia_gpu() -> str | None:
    """The first GPU `nvidia-smi -L` lists (an NVIDIA driver is installed), else None."""
    exe = shutil.which("nvidia-smi")
    if exe is None or sys.platform == "darwin":
        return None
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^GPU \d+: (.+?)(?: \(UUID.*)?$", proc.stdout, re.MULTILINE)
    return match.group(1).strip() if proc.returncode == 0 and match else None


def choose_flavour(requested: str) -> tuple[str, str]:
    """('cpu' | 'gpu', why) for `requested` auto/cpu/gpu."""
    if requested not in FLAVOURS:
        raise PlanError(f"flavour must be one of {FLAVOURS}, not {requested!r}")
    if requested != "auto":
        return requested, f"{requested} asked for"
    gpu = detect_nvidia_gpu()
    if gpu:
        return "gpu", f"NVIDIA GPU found by nvidia-smi: {gpu}"
    return "cpu", "no NVIDIA GPU found (nvidia-smi absent or lists none)"


@dataclass(frozen=True)
class Plan:
    """The exact pip input of one install, and its hash (recorded in the folder's marker)."""

    flavour: str
    reason: str
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]

    @property
    def requirements_hash(self) -> str:
        text = "\n".join(["flavour=" + self.flavour, *self.requirements, "--",
                          *self.constraints])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def constraints_text(self) -> str:
        return "\n".join(self.constraints) + "\n"


def make_plan(flavour: str, *, numpy_version: str,
              requirements_dir: Path = REQUIREMENTS_DIR) -> Plan:
    """The plan for `flavour` (auto/cpu/gpu) on a Python whose numpy is `numpy_version`."""
    chosen, reason = choose_flavour(flavour)
    reqs = read_requirements(requirements_dir / "runtime.txt")
    ort = read_requirements(requirements_dir / f"runtime-{chosen}.txt")
    if chosen == "gpu":
        ort = [re.sub(r"^(onnxruntime-gpu)(?=[=<>!~ ]|$)", r"\1" + GPU_EXTRAS, r) for r in ort]
    else:  # the denoiser's fast CPU runtime (bf16 on AMX / AVX512-BF16; docs/PERFORMANCE.md)
        ort += read_requirements(requirements_dir / "openvino.txt")
    constraints = read_requirements(requirements_dir / "constraints.txt")
    if numpy_version:  # QGIS's numpy is never replaced: the resolver must keep it
        constraints = [c for c in constraints if not re.match(r"numpy\b", c)]
        constraints.append(f"numpy=={numpy_version}")
    return Plan(flavour=chosen, reason=reason, requirements=tuple(reqs + ort),
                constraints=tuple(constraints))
