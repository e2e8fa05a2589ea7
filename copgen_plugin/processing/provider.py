"""Processing provider `copgen`: the stable home of every algorithm id (`copgen:<name>`)."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .base import ICON_PATH
from .diagnostics_algorithm import DiagnosticsAlgorithm
from .download_algorithm import DownloadModelAlgorithm
from .fill_algorithm import GapfillAlgorithm, GenerateAlgorithm
from .gapfill_batch_algorithm import GapfillBatchAlgorithm
from .install_deps_algorithm import InstallDependenciesAlgorithm


class CopgenProvider(QgsProcessingProvider):
    """Lists the algorithms; loading it imports no heavy dependency."""

    def id(self) -> str:
        return "copgen"

    def name(self) -> str:
        return "COP-GEN"

    def longName(self) -> str:
        return "COP-GEN generative models for Copernicus data"

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def svgIconPath(self) -> str:
        return str(ICON_PATH)

    def loadAlgorithms(self) -> None:
        for algorithm in (DiagnosticsAlgorithm(), DownloadModelAlgorithm(), GapfillAlgorithm(),
                          GenerateAlgorithm(), GapfillBatchAlgorithm(),
                          InstallDependenciesAlgorithm()):
            self.addAlgorithm(algorithm)
