"""One gap fill or generation over a whole raster (QGIS-free: numpy, rasterio, the engine).

``run_fill(request, progress=, cancel=, log=) -> FillReport`` is the single entry point of the
Processing algorithms and the CLI. Modules, each with one job:

* ``request``   the plain request/report values (the contract with the callers)
* ``model``     which package ``request.model`` names (folder or installed model id)
* ``inputs``    layers -> package modality keys: band layouts, S1 scale, outputs' shape
* ``reads``     per footprint: the target's partial observation, conditions on native grids
* ``footprint`` the plan and the footprint loop (seams held per sample)
* ``outputs``   samples, filled and spread rasters: copy, cast, ensemble statistics
* ``progress``  monotonic progress, cancel, messages
* ``run``       ``run_fill``: validate, set up, run, report
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .request import FillOutputs, FillReport, FillRequest, LayerInput

__all__ = ["FillOutputs", "FillReport", "FillRequest", "LayerInput", "run_fill"]


def __getattr__(name: str) -> Any:
    """``run_fill`` on first use: the request values stay importable without rasterio or
    onnxruntime (the QGIS plugin builds requests at load time)."""
    if name == "run_fill":
        return import_module(".run", __name__).run_fill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
