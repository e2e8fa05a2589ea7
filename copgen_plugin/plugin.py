"""The QGIS plugin object: registers the Processing provider; nothing else at load time.

`iface` is None under qgis_process and is never touched here; heavy packages (onnxruntime,
rasterio, torch) are imported only when an algorithm runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication

from .processing.provider import CopgenProvider


def quiet_pam_for_qgis_process(arguments: list[str]) -> bool:
    """Under ``qgis_process run copgen:...`` (a process that runs one of our algorithms and
    ends), turn GDAL's side files off for the process: qgis_process loads each raster
    parameter as a layer before any code of ours runs, and the layer's default renderer
    computes histograms that GDAL stores in a ``.aux.xml`` beside the user's raster. GDAL reads
    ``GDAL_PAM_ENABLED`` from the environment for each dataset it opens. True when set."""
    if not arguments or not Path(arguments[0]).name.startswith("qgis_process"):
        return False
    if "run" not in arguments or not any(a.startswith("copgen:") for a in arguments):
        return False
    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")
    return True


class CopgenPlugin:
    """Entry object QGIS keeps for the plugin's lifetime."""

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.provider: CopgenProvider | None = None

    def initProcessing(self) -> None:
        """Called by QGIS (desktop and qgis_process) because metadata says hasProcessingProvider."""
        if self.provider is None:
            quiet_pam_for_qgis_process(QgsApplication.arguments())
            self.provider = CopgenProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Desktop start-up: the provider is all the GUI there is (toolbox and model builder)."""
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
