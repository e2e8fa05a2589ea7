"""Shared behaviour of copgen algorithms: icon, group, dependency gate."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtGui import QIcon

from ..install import deps

ICON_PATH = Path(__file__).resolve().parents[2] / "resources" / "icon.svg"


class CopgenAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses list the import names they need in `required_modules`."""

    required_modules: tuple[str, ...] = deps.RUNTIME_MODULES

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def svgIconPath(self) -> str:
        return str(ICON_PATH)

    def canExecute(self) -> tuple[bool, str]:
        """False plus where to install them when a run-time dependency is missing or too old."""
        status = deps.check(self.required_modules)
        return status.ok, status.message()
