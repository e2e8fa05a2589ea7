"""The COP-GEN engine: QGIS-free, numpy + onnxruntime only.

Importing this package is cheap: onnxruntime is imported lazily by ``runtime`` when the first
session is created, so the QGIS plugin loads (and can explain what is missing) without it.

Modules, each with one job:

* ``modalities``  modality specs and the exact pre-/post-processing
* ``package``     the one manifest parser (``load_package``); ``verify`` checks the files
* ``schedule``    the discrete VP noise schedule; ``sampler`` the official DPM-Solver
* ``joint``       the joint latent of the generated modalities and its noise model
* ``inpaint``     latent masks and RePaint-style replacement for partly observed modalities
* ``runtime``     ONNX Runtime sessions with a verified device choice
* ``generate``    one footprint: encode, sample N, decode (``CopgenEngine``)
* ``spread``      per-pixel statistics over samples
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: public names, imported on first use so that ``import copgen_plugin.engine`` stays cheap
_EXPORTS = {
    "CopgenEngine": "generate",
    "GenerationRequest": "requests",
    "GenerationResult": "requests",
    "PartialObservation": "requests",
    "RuntimeOptions": "runtime",
    "ModelPackage": "package",
    "load_package": "package",
    "CopgenError": "..errors",  # the plugin-wide hierarchy, re-exported for engine callers
    "Cancelled": "..errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module if module.startswith("..") else f".{module}",
                                   __name__), name)
