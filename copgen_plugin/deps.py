"""Run-time dependency checks that never import the heavy packages themselves.

QGIS loads the provider even when onnxruntime or rasterio are missing; algorithms then report
what to install instead of failing at import.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass

#: import name -> pip requirement, for the algorithms that run the model.
RUNTIME_MODULES: dict[str, str] = {
    "numpy": "numpy<2",
    "onnxruntime": "onnxruntime",
    "rasterio": "rasterio",
    "huggingface_hub": "huggingface-hub",
}


@dataclass(frozen=True)
class DependencyStatus:
    """Which required modules are importable, and the command that installs the rest."""

    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing

    def message(self) -> str:
        """An actionable sentence for canExecute() and error dialogs."""
        if self.ok:
            return ""
        reqs = " ".join(f'"{RUNTIME_MODULES.get(m, m)}"' for m in self.missing)
        return (
            f"COP-GEN needs the Python package(s) {', '.join(self.missing)}, which this QGIS "
            f"cannot import. Install them into the Python QGIS uses ({sys.executable}), e.g. "
            f"`python3 -m pip install --user {reqs}` (on Windows from the OSGeo4W Shell; "
            "onnxruntime-gpu instead of onnxruntime on CUDA machines), then restart QGIS. "
            "Run 'COP-GEN diagnostics' to check."
        )


def is_importable(module: str) -> bool:
    """True if `module` can be imported, without importing it (find_spec only)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check(modules: tuple[str, ...] = tuple(RUNTIME_MODULES)) -> DependencyStatus:
    """Check `modules` (default: everything the model algorithms need)."""
    return DependencyStatus(missing=tuple(m for m in modules if not is_importable(m)))
