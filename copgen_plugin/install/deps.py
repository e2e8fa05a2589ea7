"""Which run-time packages this Python has, and what to do about the missing ones.

The one home of the run-time dependency list. Checks use ``find_spec`` and distribution
metadata only, so QGIS loads the provider (and answers ``canExecute``) without importing
onnxruntime or rasterio; a missing or too old package is a fact to report with the three ways
to install it, never an import error.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeModule:
    """One import name, the distributions that provide it, and the oldest version that works."""

    module: str
    dists: tuple[str, ...]
    minimum: tuple[int, ...]


#: Import names the model algorithms need. numpy is QGIS's own: checked, never installed.
RUNTIME: tuple[RuntimeModule, ...] = (
    RuntimeModule("numpy", ("numpy",), (1, 22)),
    RuntimeModule("onnxruntime", ("onnxruntime", "onnxruntime-gpu"), (1, 17)),
    RuntimeModule("rasterio", ("rasterio",), (1, 3)),
    RuntimeModule("huggingface_hub", ("huggingface-hub",), (0, 23)),
)
RUNTIME_MODULES: tuple[str, ...] = tuple(m.module for m in RUNTIME)

#: Where a user gets the missing packages: the three doors of the installer.
INSTALL_HINT = (
    "Install them with Plugins > COP-GEN > Install dependencies... (QGIS desktop), the "
    "Processing algorithm copgen:install_dependencies, or headless "
    "`python -m copgen_plugin install-deps`; then restart QGIS."
)


def parse_version(text: str) -> tuple[int, ...]:
    """Leading numeric release parts of a version string ('1.4.4rc1' -> (1, 4, 4))."""
    parts: list[int] = []
    for piece in text.split("."):
        match = re.match(r"\d+", piece)
        if match is None:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):
            break
    return tuple(parts)


def is_importable(module: str) -> bool:
    """True if `module` can be imported, without importing it (find_spec only)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_version(entry: RuntimeModule) -> str | None:
    """Version of the first installed distribution providing `entry`, from its metadata."""
    for dist in entry.dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@dataclass(frozen=True)
class DependencyStatus:
    """Missing and too old run-time modules, with one actionable message."""

    missing: tuple[str, ...]
    too_old: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.missing and not self.too_old

    def summary(self) -> str:
        """What is wrong, in one sentence (empty when all is well)."""
        parts = []
        if self.missing:
            parts.append(f"COP-GEN needs the Python package(s) {', '.join(self.missing)}, "
                         f"which this Python ({sys.version.split()[0]}) cannot import")
        if self.too_old:
            parts.append(f"these are too old: {', '.join(self.too_old)}")
        return "; ".join(parts) + "." if parts else ""

    def message(self) -> str:
        """The summary plus where to install: for canExecute(), the CLI and error dialogs."""
        return f"{self.summary()} {INSTALL_HINT}" if not self.ok else ""


def check(modules: tuple[str, ...] = RUNTIME_MODULES) -> DependencyStatus:
    """Check `modules` (default: everything the model algorithms need)."""
    missing: list[str] = []
    too_old: list[str] = []
    for entry in RUNTIME:
        if entry.module not in modules:
            continue
        if not is_importable(entry.module):
            missing.append(entry.module)
            continue
        version = installed_version(entry)
        if version is not None and parse_version(version) < entry.minimum:
            wanted = ".".join(map(str, entry.minimum))
            too_old.append(f"{entry.module} {version} (needs >= {wanted})")
    return DependencyStatus(missing=tuple(missing), too_old=tuple(too_old))
