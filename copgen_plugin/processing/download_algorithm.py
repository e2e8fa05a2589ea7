"""copgen:download_model: install a ready model package from Hugging Face, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProcessingOutputString,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from ..errors import Cancelled, CopgenError
from .base import CopgenAlgorithm


class DownloadModelAlgorithm(CopgenAlgorithm):
    """Needs huggingface-hub only; the package lands in the per-user models folder."""

    required_modules = ("huggingface_hub",)

    def name(self) -> str:
        return "download_model"

    def displayName(self) -> str:
        return "Download a model package"

    def group(self) -> str:
        return "Tools"

    def groupId(self) -> str:
        return "tools"

    def createInstance(self) -> DownloadModelAlgorithm:
        return DownloadModelAlgorithm()

    def shortHelpString(self) -> str:
        return (
            "Downloads a COP-GEN model package (manifest.json + ONNX graphs) from a Hugging Face "
            "repository into the models folder (or the folder given), verifying every file's "
            "SHA-256. A cancelled or interrupted download installs nothing and resumes next "
            "time. Honours HF_HUB_OFFLINE, HF_ENDPOINT and HF_TOKEN."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        model = QgsProcessingParameterString("MODEL", "Model id or Hugging Face repository",
                                             defaultValue="copgen-base")
        model.setHelp("A known id (copgen-base) or owner/name of a repository holding a package.")
        self.addParameter(model)
        revision = QgsProcessingParameterString("REVISION", "Revision (branch, tag or commit)",
                                                defaultValue="main")
        endpoint = QgsProcessingParameterString("ENDPOINT", "Hub endpoint (empty: HF_ENDPOINT "
                                                "or huggingface.co)", optional=True)
        folder = QgsProcessingParameterFile("MODELS_DIR", "Install into folder (empty: the "
                                            "per-user models folder)", optional=True,
                                            behavior=QgsProcessingParameterFile.Folder)
        revision.setHelp("Branch, tag or commit of the repository.")
        endpoint.setHelp("A mirror or a local hub; HF_ENDPOINT is used when empty.")
        folder.setHelp("Where the package folder is created; see copgen:diagnostics.")
        for param in (revision, endpoint, folder):
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputFolder("PACKAGE", "Installed package folder"))
        self.addOutput(QgsProcessingOutputString("REPO_ID", "Repository"))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ..hub import download_package

        folder = self.parameterAsFile(parameters, "MODELS_DIR", context).strip()
        endpoint = self.parameterAsString(parameters, "ENDPOINT", context).strip() or None

        def progress(done: int, total: int) -> None:
            feedback.setProgress(100.0 * done / total if total else 0.0)

        try:
            result = download_package(
                self.parameterAsString(parameters, "MODEL", context).strip(),
                dest_root=Path(folder) if folder else None,
                revision=self.parameterAsString(parameters, "REVISION", context).strip()
                or "main",
                endpoint=endpoint, progress=progress, cancel=feedback.isCanceled)
        except Cancelled as exc:
            raise QgsProcessingException(f"Cancelled: {exc}; nothing was installed") from exc
        except CopgenError as exc:
            raise QgsProcessingException(str(exc)) from exc
        verb = "already installed" if result.reused else f"downloaded {result.downloaded_bytes} B"
        feedback.pushInfo(f"{result.repo_id}@{result.revision}: {verb} at {result.path}")
        return {"PACKAGE": str(result.path), "REPO_ID": result.repo_id}
