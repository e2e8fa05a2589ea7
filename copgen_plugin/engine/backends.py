"""CPU backends: the same ``.onnx`` run by the OpenVINO runtime in bf16 where the CPU has it.

Why: on a CPU the official code runs the denoiser under torch bf16 autocast; ONNX Runtime's CPU
provider runs the fp32 graph at about 0.6x that speed, and the gap is the precision, not the
graph (docs/PERFORMANCE.md). OpenVINO reads the same ONNX file and executes it in bf16 on AMX /
AVX512-BF16 units (``INFERENCE_PRECISION_HINT``), at about 1 % relative difference against fp32,
which is the official path's own accuracy. Where the CPU has no bf16 unit it runs in f32.

The choice (``cpu_backend``): ``auto`` = OpenVINO when the ``openvino`` package is installed and
compiles the graph, otherwise ONNX Runtime (a compile failure is logged, never fatal);
``openvino`` = OpenVINO or a clear error; ``onnxruntime`` = ONNX Runtime's CPU provider. The
environment variable ``COPGEN_CPU_BACKEND`` sets the default, so one switch reaches every
process (qgis_process, Dask workers). openvino is imported lazily, as onnxruntime is.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from ..errors import DeviceError, InferenceError, InputError, ModelLoadError

logger = logging.getLogger(__name__)

CpuBackend = Literal["auto", "openvino", "onnxruntime"]
#: the accepted values, in the CLI's order
CPU_BACKENDS: tuple[CpuBackend, ...] = ("auto", "openvino", "onnxruntime")
ENV_VAR = "COPGEN_CPU_BACKEND"
#: what a session reports as its "provider" when OpenVINO runs it (the precision follows)
OPENVINO = "OpenVINO"


def default_cpu_backend() -> CpuBackend:
    """``COPGEN_CPU_BACKEND`` when set (checked), else ``auto``."""
    value = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if value not in CPU_BACKENDS:
        raise InputError(f"{ENV_VAR} must be one of {CPU_BACKENDS}, got {value!r}")
    return value  # type: ignore[return-value]


def import_openvino() -> ModuleType | None:
    """The openvino module, or None when it is not installed (or broken)."""
    try:
        import openvino
    except ImportError:
        return None
    except Exception as exc:  # a half-installed wheel raises RuntimeError/OSError
        logger.warning("openvino is installed but cannot be imported (%s); using ONNX Runtime",
                       exc)
        return None
    return openvino


_CORE: Any = None
_CORE_LOCK = threading.Lock()


def openvino_core(ov: ModuleType) -> Any:
    """One ``ov.Core`` per process (it caches plugins and device properties)."""
    global _CORE
    with _CORE_LOCK:
        if _CORE is None:
            _CORE = ov.Core()
        return _CORE


def cpu_has_bf16(core: Any) -> bool:
    """True when OpenVINO's CPU plugin reports bf16 units (AVX512-BF16 or AMX)."""
    try:
        return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # an old plugin without the property: be safe, run f32
        return False


def _shape(port: Any) -> list[Any]:
    """A port's shape as ORT reports it: ints for static axes, a name for dynamic ones."""
    return [d.get_length() if d.is_static else "?" for d in port.get_partial_shape()]


class OpenVinoGraph:
    """One ONNX graph compiled by the OpenVINO runtime for the CPU.

    Contract of :class:`runtime.OnnxModel`'s backend: ``input_names``, ``output_names``,
    ``input_shapes()``, ``output_shapes()`` and ``run(feeds) -> outputs`` in output order.
    Each call gets its own infer request, so threads may share one compiled graph.
    """

    def __init__(self, path: Path, name: str, *, threads: int | None = None,
                 precision: str | None = None) -> None:
        """``precision``: "bf16" or "fp32"; None = bf16 where the CPU has bf16 units."""
        ov = import_openvino()
        if ov is None:
            raise DeviceError(
                f"{name}: the OpenVINO backend was asked for but openvino is not installed; "
                "pip install -r requirements/openvino.txt, or use the onnxruntime backend")
        core = openvino_core(ov)
        if precision is None:
            precision = "bf16" if cpu_has_bf16(core) else "fp32"
        if precision not in ("bf16", "fp32"):
            raise InputError(f"{name}: OpenVINO precision must be bf16 or fp32, got {precision!r}")
        self.name = name
        self.precision = precision
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            model = core.read_model(str(path))
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:
            raise ModelLoadError(f"{name}: OpenVINO cannot compile {path}: {exc}") from exc
        # the ONNX names, read before compiling (a compiled port may carry fused nodes' names)
        self.input_names = [p.get_any_name() for p in model.inputs]
        self.output_names = [p.get_any_name() for p in model.outputs]
        self._shapes = {p.get_any_name(): _shape(p) for p in (*model.inputs, *model.outputs)}
        self.providers = [f"{OPENVINO} CPU {precision}"]
        logger.info("%s: OpenVINO %s on the CPU (%s)", name, ov.__version__, precision)

    def input_shapes(self) -> dict[str, list[Any]]:
        return {n: self._shapes[n] for n in self.input_names}

    def output_shapes(self) -> dict[str, list[Any]]:
        return {n: self._shapes[n] for n in self.output_names}

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run on host arrays; outputs are copied out of OpenVINO's buffers."""
        try:
            request = self.compiled.create_infer_request()
            request.infer({k: np.ascontiguousarray(v) for k, v in feeds.items()})
            return [np.array(request.get_output_tensor(i).data)
                    for i in range(len(self.output_names))]
        except Exception as exc:
            raise InferenceError(f"{self.name}: OpenVINO failed: {exc}") from exc


def open_cpu_graph(path: Path, name: str, choice: CpuBackend, *,
                   threads: int | None = None) -> OpenVinoGraph | None:
    """The OpenVINO graph for a CPU session, or None when ONNX Runtime should run it.

    ``auto`` falls back to ONNX Runtime (None) when openvino is missing or cannot compile
    this graph, and says why in the log; ``openvino`` raises instead.
    """
    if choice == "onnxruntime":
        return None
    if choice == "auto" and import_openvino() is None:
        logger.info("%s: openvino is not installed; ONNX Runtime runs it on the CPU (fp32)",
                    name)
        return None
    try:
        return OpenVinoGraph(path, name, threads=threads)
    except ModelLoadError as exc:
        if choice == "openvino":
            raise
        logger.warning("%s; falling back to ONNX Runtime on the CPU (fp32)", exc)
        return None
