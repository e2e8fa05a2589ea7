"""The QGIS plugin object: the dependency folder on sys.path, the provider, one menu.

`iface` is None under qgis_process and is only used in initGui; heavy packages (onnxruntime,
rasterio, torch) are imported only when an algorithm runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsApplication

from .install import deps
from .install.sitedir import activate
from .processing.provider import CopgenProvider

MENU = "&COP-GEN"


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
        self.actions: list[Any] = []
        self.dialog: Any = None
        activate()  # before anything could import the run-time packages

    def initProcessing(self) -> None:
        """Called by QGIS (desktop and qgis_process) because metadata says hasProcessingProvider."""
        if self.provider is None:
            quiet_pam_for_qgis_process(QgsApplication.arguments())
            self.provider = CopgenProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Desktop: the provider, Plugins > COP-GEN > Install dependencies..., and an offer to
        install them when they are missing."""
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction, QPushButton

        from .processing.base import ICON_PATH

        self.initProcessing()
        action = QAction(QIcon(str(ICON_PATH)), "Install dependencies...",
                         self.iface.mainWindow())
        action.triggered.connect(self.show_install_dialog)
        self.iface.addPluginToMenu(MENU, action)
        self.actions.append(action)
        status = deps.check()
        if not status.ok:
            bar = self.iface.messageBar()
            item = bar.createMessage("COP-GEN", status.summary())
            button = QPushButton("Install dependencies...")
            button.clicked.connect(self.show_install_dialog)
            item.layout().addWidget(button)
            bar.pushWidget(item, Qgis.Warning)

    def show_install_dialog(self) -> None:
        from .gui.install_dialog import InstallDialog

        if self.dialog is None:
            self.dialog = InstallDialog(self.iface.mainWindow())
        self.dialog.show()
        self.dialog.raise_()

    def unload(self) -> None:
        for action in self.actions:
            if self.iface is not None:
                self.iface.removePluginMenu(MENU, action)
        self.actions.clear()
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
