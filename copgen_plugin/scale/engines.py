"""One engine (its ONNX Runtime sessions) per worker, reused by every task it runs.

Creating sessions costs seconds (a real package's graphs are gigabytes), so a worker keeps
them across scenes and footprints. A task leases an engine for the time it generates and
gives it back: a denoiser session holds per-call state (device buffers bound on CUDA), so two
tasks running at once never share one, and a process holds as many engines as it runs tasks
at once (one, with one thread per Dask worker), whichever threads run them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from ..engine.generate import CopgenEngine
from ..engine.runtime import RuntimeOptions
from ..fill.model import open_package, resolve_model
from ..fill.request import FillRequest

_Key = tuple[str, str, int, str]
_IDLE: dict[_Key, list[CopgenEngine]] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def leased_engine(request: FillRequest) -> Iterator[CopgenEngine]:
    """An engine of this process for the request's model, device and thread count: an idle
    one if there is one, else a new one; it is kept for the next task afterwards."""
    root = resolve_model(request.model)
    key = (str(root), request.device, request.threads, request.precision)
    with _LOCK:
        idle = _IDLE.get(key)
        engine = idle.pop() if idle else None
    if engine is None:
        engine = CopgenEngine(open_package(str(root)), RuntimeOptions(
            device=request.device, intra_op_threads=request.threads or None,
            precision=request.precision))
    try:
        yield engine
    finally:
        with _LOCK:
            _IDLE.setdefault(key, []).append(engine)


def engines_held() -> list[tuple[Path, dict[str, list[str]]]]:
    """Each engine this process keeps: its package and the sessions it has opened (with
    their providers), for diagnostics and tests."""
    with _LOCK:
        return [(Path(key[0]), engine.providers) for key, engines in _IDLE.items()
                for engine in engines]
