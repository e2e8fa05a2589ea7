"""copgen:install_dependencies: pip-install the run-time packages into the plugin's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from ..errors import Cancelled, CopgenError
from ..install.plan import FLAVOURS
from .base import CopgenAlgorithm


class InstallDependenciesAlgorithm(CopgenAlgorithm):
    """Runs with no run-time dependency at all: installing them is its job."""

    FLAVOUR = "FLAVOUR"
    INDEX_URL = "INDEX_URL"
    FIND_LINKS = "FIND_LINKS"
    FORCE = "FORCE"
    required_modules = ()

    def name(self) -> str:
        return "install_dependencies"

    def displayName(self) -> str:
        return "Install dependencies (onnxruntime, rasterio, huggingface-hub)"

    def group(self) -> str:
        return "Tools"

    def groupId(self) -> str:
        return "tools"

    def createInstance(self) -> InstallDependenciesAlgorithm:
        return InstallDependenciesAlgorithm()

    def shortHelpString(self) -> str:
        return (
            "Installs the pinned run-time packages (onnxruntime or onnxruntime-gpu, rasterio, "
            "huggingface-hub) with pip into a folder the plugin owns, keyed to this QGIS's "
            "Python; QGIS's own numpy and site-packages are never changed. onnxruntime-gpu "
            "(with its CUDA and cuDNN wheels) is chosen when nvidia-smi finds an NVIDIA GPU. "
            "The new packages are checked by importing them in a separate Python; a failed or "
            "cancelled install leaves the previous one as it was. Without internet, give a "
            "folder of wheels (made with pip download) as the only source."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        flavour = QgsProcessingParameterEnum(self.FLAVOUR, "ONNX Runtime build",
                                             options=list(FLAVOURS), defaultValue=0)
        flavour.setHelp("auto: onnxruntime-gpu when an NVIDIA GPU is present, else onnxruntime.")
        self.addParameter(flavour)
        index = QgsProcessingParameterString(self.INDEX_URL, "Package index URL (empty: pip's "
                                             "default, PyPI)", optional=True)
        links = QgsProcessingParameterFile(self.FIND_LINKS, "Folder of wheels (alone: the only "
                                           "source, offline)", optional=True,
                                           behavior=QgsProcessingParameterFile.Folder)
        force = QgsProcessingParameterBoolean(self.FORCE, "Reinstall even if complete",
                                              defaultValue=False)
        index.setHelp("A mirror or private index; pip's configuration (pip.conf, PIP_INDEX_URL, "
                      "proxies) applies when empty.")
        links.setHelp("A folder of wheels made with `pip download` for this Python; without an "
                      "index URL nothing else is asked (offline install).")
        force.setHelp("Install again into a fresh folder even if the current one is complete.")
        for param in (index, links, force):
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputFolder("FOLDER", "Dependency folder"))
        self.addOutput(QgsProcessingOutputString("STATUS", "installed / already installed / "
                                                 "restart needed"))
        self.addOutput(QgsProcessingOutputString("FLAVOUR_USED", "ONNX Runtime build"))
        self.addOutput(QgsProcessingOutputString("PACKAGES", "Packages installed"))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ..install.installer import InstallOptions, install
        from ..install.sitedir import activate

        links = self.parameterAsFile(parameters, self.FIND_LINKS, context).strip()
        options = InstallOptions(
            flavour=FLAVOURS[self.parameterAsEnum(parameters, self.FLAVOUR, context)],
            index_url=self.parameterAsString(parameters, self.INDEX_URL, context).strip() or None,
            find_links=Path(links) if links else None,
            force=self.parameterAsBool(parameters, self.FORCE, context))
        def progress(fraction: float, text: str) -> None:
            feedback.setProgress(100.0 * fraction)
            feedback.setProgressText(text)

        try:
            result = install(options, log=feedback.pushConsoleInfo, progress=progress,
                             cancel=feedback.isCanceled)
        except Cancelled as exc:
            raise QgsProcessingException(f"{exc}; the previous dependency folder is "
                                         "unchanged") from exc
        except CopgenError as exc:
            raise QgsProcessingException(f"Installing the dependencies failed: {exc}") from exc
        activate()  # usable in this session unless an older copy is already imported
        feedback.pushInfo(f"{result.status}: {result.folder} ({result.flavour}: "
                          f"{result.reason}); {len(result.packages)} packages in "
                          f"{result.seconds:.0f} s")
        return {"FOLDER": str(result.folder), "STATUS": result.status,
                "FLAVOUR_USED": result.flavour, "PACKAGES": " ".join(result.packages)}
