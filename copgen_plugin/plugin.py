"""The QGIS plugin object: registers the Processing provider; nothing else at load time.

`iface` is None under qgis_process and is never touched here; heavy packages (onnxruntime,
rasterio, torch) are imported only when an algorithm runs.
"""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .processing.provider import CopgenProvider


class CopgenPlugin:
    """Entry object QGIS keeps for the plugin's lifetime."""

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: CopgenProvider | None = None

    def initProcessing(self) -> None:
        """Called by QGIS (desktop and qgis_process) because metadata says hasProcessingProvider."""
        if self.provider is None:
            self.provider = CopgenProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Desktop start-up: the provider is all the GUI there is (toolbox and model builder)."""
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
