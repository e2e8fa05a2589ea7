"""copgen:diagnostics: what this installation has, as a Markdown report and as outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    Qgis,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
)

from ..diagnostics import FACT_KEYS, collect, write_report
from ..engine.devices import DEVICES
from .base import CopgenAlgorithm


class DiagnosticsAlgorithm(CopgenAlgorithm):
    """Runs with no run-time dependency at all: missing packages are what it reports."""

    DEVICE = "DEVICE"
    OUTPUT = "OUTPUT"
    required_modules = ()

    def name(self) -> str:
        return "diagnostics"

    def displayName(self) -> str:
        return "Diagnostics (versions, ONNX Runtime device, models)"

    def group(self) -> str:
        return "Tools"

    def groupId(self) -> str:
        return "tools"

    def shortHelpString(self) -> str:
        return (
            "Reports the plugin, QGIS, Python, numpy, GDAL/rasterio and ONNX Runtime versions, "
            "the execution providers ONNX Runtime offers and the one a session actually gets "
            "(a small graph is run; a CUDA request that falls back to CPU is reported as such), "
            "the huggingface-hub version and cache folder, the model packages found, the plugin's "
            "dependency folder and its state, and what to do next (install the dependencies, "
            "or download COP-GEN base with its size, the free disk and the memory it needs). "
            "Runs without any parameter; the optional Markdown report can be pasted into a "
            "bug report."
        )

    def createInstance(self) -> DiagnosticsAlgorithm:
        return DiagnosticsAlgorithm()

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        device = QgsProcessingParameterEnum(
            self.DEVICE, "Device to probe", options=list(DEVICES), defaultValue=0
        )
        device.setHelp("auto and cuda ask ONNX Runtime for CUDA first; cpu asks for CPU only.")
        self.addParameter(device)
        report = QgsProcessingParameterFileDestination(
            self.OUTPUT, "Diagnostics report", fileFilter="Markdown (*.md)", optional=True,
            createByDefault=False)
        report.setHelp("The same facts as the outputs, as a Markdown table (optional).")
        self.addParameter(report)
        for key in FACT_KEYS:
            self.addOutput(QgsProcessingOutputString(key.upper(), key.replace("_", " ")))

    def processAlgorithm(
        self,
        parameters: dict[str, Any],
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> dict[str, Any]:
        device = DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        facts = collect(qgis_version=Qgis.QGIS_VERSION, device=device)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context).strip()
        if out:
            write_report(Path(out), facts)
        for key in FACT_KEYS:
            feedback.pushInfo(f"{key}: {facts[key]}")
        feedback.pushInfo(f"What to do next: {facts['next_step']}")
        results: dict[str, Any] = {key.upper(): facts[key] for key in FACT_KEYS}
        results[self.OUTPUT] = out or None
        return results
