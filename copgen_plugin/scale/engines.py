"""One engine (its ONNX Runtime sessions) per worker, reused by every task it runs.

Creating sessions costs seconds (a real package's graphs are gigabytes), so a worker keeps
them across scenes and footprints. The key includes the thread: a denoiser session holds
per-call state (device buffers bound on CUDA), so two threads never share one. Run Dask
workers with one thread each and this is one engine per worker process.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..engine.generate import CopgenEngine
from ..engine.runtime import RuntimeOptions
from ..fill.model import open_package, resolve_model
from ..fill.request import FillRequest

_ENGINES: dict[tuple[str, str, int, int], CopgenEngine] = {}
_LOCK = threading.Lock()


def worker_engine(request: FillRequest) -> CopgenEngine:
    """This thread's engine for the request's model, device and thread count."""
    root = resolve_model(request.model)
    key = (str(root), request.device, request.threads, threading.get_ident())
    with _LOCK:
        engine = _ENGINES.get(key)
    if engine is None:
        engine = CopgenEngine(open_package(str(root)), RuntimeOptions(
            device=request.device, intra_op_threads=request.threads or None))
        with _LOCK:
            engine = _ENGINES.setdefault(key, engine)
    return engine


def engines_held() -> list[Path]:
    """The packages this process holds engines for (diagnostics, tests)."""
    with _LOCK:
        return [Path(k[0]) for k in _ENGINES]
