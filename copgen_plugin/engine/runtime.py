"""ONNX Runtime sessions: device choice verified, threads set, clear errors.

onnxruntime is imported lazily here (never at package import), so the QGIS plugin loads and
can explain what is missing even where onnxruntime is not installed.

onnxruntime-gpu silently falls back to the CPU when CUDA cannot be initialised; after creating
a session the engine reads back ``session.get_providers()``, logs it, and warns when CUDA was
asked for and not obtained. On CUDA the denoiser uses I/O binding so the clean condition
latents are uploaded once and stay on the device for all solver steps, through fixed buffers
and CUDA graphs (``cuda_path``); the CPU path is a plain ``session.run`` and does not depend on
it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import DeviceError, InferenceError, InputError, ModelLoadError
from .backends import CPU_BACKENDS, CpuBackend, OpenVinoGraph, default_cpu_backend, open_cpu_graph
from .devices import DEVICES, PRECISIONS, Device, Precision

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def import_onnxruntime() -> ModuleType:
    """The onnxruntime module, or a :class:`DeviceError` that says how to get it."""
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise DeviceError(
            "onnxruntime is not installed in this Python; install onnxruntime (CPU) or "
            "onnxruntime-gpu (CUDA) to run COP-GEN"
        ) from exc
    return onnxruntime


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run graphs: ``device`` auto/cuda/cpu and thread counts (None = ORT default);
    ``precision`` the package's graph variant (auto = the one made for the device got);
    ``cuda_graphs``: capture the denoiser as CUDA graphs where ONNX Runtime allows it;
    ``cpu_backend``: who runs a CPU graph (``backends``: auto = OpenVINO where installed)."""

    device: Device = "auto"
    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    cuda_device_id: int = 0
    precision: Precision = "auto"
    cuda_graphs: bool = True
    cpu_backend: CpuBackend = field(default_factory=default_cpu_backend)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise InputError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.cpu_backend not in CPU_BACKENDS:
            raise InputError(f"cpu_backend must be one of {CPU_BACKENDS}, "
                             f"got {self.cpu_backend!r}")
        for name in ("intra_op_threads", "inter_op_threads"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"{name} must be >= 0, got {value}")


_CUDA_DLLS_PRELOADED = False


def preload_cuda_dlls(ort: ModuleType) -> None:
    """Load the CUDA and cuDNN libraries of the nvidia-* wheels once, before the first CUDA
    session: onnxruntime-gpu installed with its ``[cuda,cudnn]`` extra (the plugin's installer
    does so) finds no system CUDA otherwise. Older builds without ``preload_dlls`` skip it."""
    global _CUDA_DLLS_PRELOADED
    if _CUDA_DLLS_PRELOADED or not hasattr(ort, "preload_dlls"):
        return
    _CUDA_DLLS_PRELOADED = True
    try:
        ort.preload_dlls()
    except Exception as exc:  # a failed preload leaves ORT's own search: report, go on
        logger.warning("onnxruntime.preload_dlls() failed (%s); CUDA may fall back to CPU", exc)


def requested_providers(options: RuntimeOptions, available: Sequence[str]) -> list[Any]:
    """Provider list for a session: CUDA first when asked for (or auto) and installed.

    CUDA is only requested when this onnxruntime build has it; when ``cuda`` is asked for and
    the build lacks it, the CPU is used and :class:`OnnxModel` warns.
    """
    if options.device in ("cuda", "auto") and CUDA in available:
        return [(CUDA, {"device_id": options.cuda_device_id}), CPU]
    return [CPU]


class OnnxModel:
    """One ONNX graph in an ONNX Runtime session (or, on the CPU, compiled by OpenVINO), with
    the providers it really got.

    ``openvino``: whether this graph may go to OpenVINO when ``options.cpu_backend`` allows it
    (the engine lets the denoiser go; the VAEs stay fp32: a decoder writes the pixel values
    and is about 4 % of a sample's time, docs/PERFORMANCE.md). ``precision`` is OpenVINO's
    inference precision, or None for an ONNX Runtime session (the graph variant's own).
    """

    def __init__(self, path: Path, options: RuntimeOptions, *, name: str | None = None,
                 cuda_options: Mapping[str, str] | None = None, openvino: bool = False) -> None:
        """``cuda_options``: extra CUDA provider options (e.g. ``enable_cuda_graph``)."""
        ort = import_onnxruntime()
        self.path = Path(path)
        self.name = name or self.path.name
        self.options = options
        if not self.path.is_file():
            raise ModelLoadError(f"{self.name}: ONNX file not found: {self.path}")
        self.backend: OpenVinoGraph | None = None
        self.precision: str | None = None
        if openvino and requested_providers(options, ort.get_available_providers())[0] == CPU:
            self.backend = open_cpu_graph(self.path, self.name, options.cpu_backend,
                                          threads=options.intra_op_threads)
        if self.backend is not None:
            self._use_backend(self.backend)
            return
        so = ort.SessionOptions()
        if options.intra_op_threads is not None:
            so.intra_op_num_threads = options.intra_op_threads
        if options.inter_op_threads is not None:
            so.inter_op_num_threads = options.inter_op_threads
        providers = requested_providers(options, ort.get_available_providers())
        if providers[0] != CPU:
            preload_cuda_dlls(ort)
            if cuda_options:
                providers = [(p[0], {**p[1], **cuda_options}) if isinstance(p, tuple)
                             and p[0] == CUDA else p for p in providers]
        self.cuda_graphs = bool(cuda_options and cuda_options.get("enable_cuda_graph") == "1")
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
        except Exception as exc:  # ORT raises its own classes (InvalidProtobuf, Fail, ...)
            raise ModelLoadError(
                f"{self.name}: ONNX Runtime cannot load {self.path} "
                f"(corrupted, truncated or not an ONNX graph?): {exc}"
            ) from exc
        self.providers: list[str] = list(self.session.get_providers())
        self.on_cuda = CUDA in self.providers
        self.cuda_graphs = self.cuda_graphs and self.on_cuda
        self.cuda_fallback = options.device == "cuda" and not self.on_cuda
        logger.info("%s: ONNX Runtime providers %s", self.name, self.providers)
        if self.cuda_fallback:
            logger.warning(
                "%s: CUDA was requested but ONNX Runtime runs on %s (available: %s); is "
                "onnxruntime-gpu installed with a matching CUDA/cuDNN?",
                self.name, self.providers, ort.get_available_providers(),
            )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _use_backend(self, backend: OpenVinoGraph) -> None:
        """Run through OpenVINO on the CPU: no ORT session, the backend's names and precision."""
        self.session = None
        self.providers = list(backend.providers)
        self.on_cuda = self.cuda_graphs = False
        self.cuda_fallback = self.options.device == "cuda"
        if self.cuda_fallback:
            logger.warning("%s: CUDA was requested but this onnxruntime has no CUDA provider; "
                           "running on the CPU", self.name)
        self.precision = backend.precision
        self.input_names = list(backend.input_names)
        self.output_names = list(backend.output_names)
        logger.info("%s: %s", self.name, self.label)

    @property
    def device(self) -> str:
        return "cuda" if self.on_cuda else "cpu"

    @property
    def label(self) -> str:
        """Device and runtime (with OpenVINO's precision), e.g. "cpu (OpenVINO bf16)"."""
        if self.backend is None:
            return f"{self.device} (onnxruntime{' ' + self.precision if self.precision else ''})"
        return f"{self.device} (OpenVINO {self.precision})"

    def input_shapes(self) -> dict[str, list[Any]]:
        if self.backend is not None:
            return self.backend.input_shapes()
        return {i.name: list(i.shape) for i in self.session.get_inputs()}

    def output_shapes(self) -> dict[str, list[Any]]:
        if self.backend is not None:
            return self.backend.output_shapes()
        return {o.name: list(o.shape) for o in self.session.get_outputs()}

    def check_interface(
        self, inputs: Mapping[str, Sequence[int]], outputs: Mapping[str, Sequence[int]]
    ) -> None:
        """Raise :class:`ModelLoadError` unless the graph has these per-sample shapes.

        The shapes exclude the (dynamic) batch axis; symbolic dimensions are accepted.
        """
        for kind, expected, actual in (
            ("input", inputs, self.input_shapes()),
            ("output", outputs, self.output_shapes()),
        ):
            for name, shape in expected.items():
                if name not in actual:
                    raise ModelLoadError(
                        f"{self.name}: the graph has no {kind} {name!r} "
                        f"(it has {sorted(actual)})"
                    )
                got = actual[name][1:]
                ok = len(got) == len(shape) and all(
                    not isinstance(g, int) or g == s for g, s in zip(got, shape, strict=True)
                )
                if not ok:
                    raise ModelLoadError(
                        f"{self.name}: {kind} {name!r} has per-sample shape {got}, "
                        f"the manifest says {list(shape)}"
                    )

    def run(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run on host arrays; every output comes back as a numpy array."""
        if self.backend is not None:
            return self.backend.run(feeds)
        try:
            return list(self.session.run(None, dict(feeds)))
        except Exception as exc:
            raise InferenceError(f"{self.name}: ONNX Runtime failed: {exc}") from exc


class DenoiserSession:
    """The backbone as a :data:`joint.Denoiser`: ``z_<key>``/``t_<key>`` in, ``eps_<key>`` out.

    On CUDA it runs through fixed device buffers bound once per batch shape, with CUDA graphs
    where the session has them (:mod:`.cuda_path`); arrays registered with
    :meth:`keep_on_device` (the condition latents, which do not change between steps) are
    uploaded once per footprint. The CPU path is a plain ``session.run``.
    """

    def __init__(self, model: OnnxModel, keys: Sequence[str], *,
                 io_binding: bool | None = None,
                 reopen: Callable[[], OnnxModel] | None = None) -> None:
        """``io_binding``: None = on CUDA only; True forces it (also on the CPU, for tests).
        ``reopen``: the same graph without CUDA graphs, for a capture refused at run time."""
        self.model = model
        self.keys = tuple(keys)
        self.io_binding = model.on_cuda if io_binding is None else io_binding
        self.cuda_graphs_note = ""  # set when CUDA graph capture was refused at run time
        self._reopen = reopen
        self._runner: Any = None

    def _bound(self) -> Any:
        if self._runner is None:
            from .cuda_path import BoundRunner  # the CUDA path; never loaded on the CPU path

            self._runner = BoundRunner(self.model)
        return self._runner

    def keep_on_device(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Upload constant inputs once (with I/O binding; otherwise a no-op)."""
        if self.io_binding:
            self._bound().keep_on_device({f"z_{k}": a for k, a in arrays.items()})

    def __call__(
        self, z: Mapping[str, np.ndarray], t: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for key in self.keys:
            feeds[f"z_{key}"] = np.ascontiguousarray(z[key], dtype=np.float32)
            feeds[f"t_{key}"] = np.ascontiguousarray(t[key], dtype=np.float32)
        outs = self._run_bound(feeds) if self.io_binding else self.model.run(feeds)
        names = self.model.output_names
        return {name[len("eps_"):]: out for name, out in zip(names, outs, strict=True)}

    def _run_bound(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        runner = self._bound()
        try:
            return list(runner.run(feeds))
        except InferenceError as exc:
            if not (runner.graphs and self._reopen is not None):
                raise
            # CUDA graph capture refused at run time: reopen without graphs, report, retry once
            logger.warning("%s: CUDA graph capture refused, running without: %s",
                           self.model.name, exc)
            self.cuda_graphs_note = f"refused at capture ({str(exc)[:200]})"
            constants = runner.constants
            self.model, self._runner = self._reopen(), None
            self._bound().keep_on_device(constants)
            return list(self._runner.run(feeds))
