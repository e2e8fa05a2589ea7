"""Many scenes (and, optionally, one scene's footprints) on Dask, QGIS-free.

``run_batch(scenes, base_request, out_dir, scheduler=...)`` fills each scene into
``out_dir/<name>/`` with ``fill.run_fill`` as one idempotent task per scene. Modules:

* ``scenes``  the scene list (folder, glob, JSON/CSV table) and each scene's request
* ``marker``  request hash, completion marker, clearing an unfinished attempt's leftovers
* ``engines`` one engine (ONNX Runtime sessions) per worker thread, reused across tasks
* ``task``    the scene task: skip when complete, clear, run, mark; errors fail the scene alone
* ``split``   ``--split-scene``: footprints as tasks of their dependency graph, replayed in
  scan order, identical to the sequential scan
* ``runner``  schedulers (sync, threads, local:N, an address) and the batch loop
* ``report``  the batch report
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["BatchReport", "SceneResult", "batch_request", "read_scenes", "run_batch"]

_HOMES = {"BatchReport": "report", "SceneResult": "report", "batch_request": "scenes",
          "read_scenes": "scenes",
          "run_batch": "runner"}


def __getattr__(name: str) -> Any:
    """Import on first use: the plugin loads without dask, rasterio or onnxruntime."""
    if name in _HOMES:
        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
