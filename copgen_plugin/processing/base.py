"""Shared behaviour of copgen algorithms: icon, group, dependency gate, parameter errors that
say which parameter and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
)
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

    def checkParameterValues(self, parameters: dict[str, Any],
                             context: QgsProcessingContext) -> tuple[bool, str]:
        """QGIS's check, parameter by parameter, with a message naming the parameter, its value
        and what is accepted (QGIS alone says "Incorrect parameter value for N_SAMPLES").

        A raster parameter given as a file path is accepted as it is (the run reads it and
        names it when it cannot): QGIS's own check loads it as a layer, whose default
        renderer computes histograms and leaves a ``.aux.xml`` beside the user's raster."""
        for definition in self.parameterDefinitions():
            if definition.flags() & QgsProcessingParameterDefinition.FlagHidden:
                continue
            value = parameters.get(definition.name())
            if definition.type() == "raster" and isinstance(value, str) and value \
                    and Path(value).is_file():
                continue
            if not definition.checkValueIsAcceptable(value, context):
                return False, parameter_error(definition, value)
        return True, ""


def parameter_error(definition: QgsProcessingParameterDefinition, value: object) -> str:
    """Why ``value`` is refused for ``definition``, in one sentence with the fix."""
    name = f"{definition.name()} ({definition.description()})"
    if value is None or value == "":
        return f"{name} is required"
    if isinstance(definition, QgsProcessingParameterNumber):
        return (f"{name} must be a number between {definition.minimum():g} and "
                f"{definition.maximum():g}, got {value!r}")
    if isinstance(definition, QgsProcessingParameterEnum):
        choices = ", ".join(f"{i} ({o})" for i, o in enumerate(definition.options()))
        return f"{name} must be one of {choices}, got {value!r}"
    if definition.type() == "raster":
        return f"{name}: {value!r} is not a raster layer or a raster file GDAL can open"
    return f"{name}: {value!r} is not an accepted {definition.type()} value"
