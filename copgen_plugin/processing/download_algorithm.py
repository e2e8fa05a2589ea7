"""copgen:download_model: the official COP-GEN weights (or a ready package) as a package."""

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


def _where() -> tuple[str, str]:
    """The cache and models folders, for the help text (best effort: nothing may fail here)."""
    from ..model_store import user_models_dir

    try:
        from huggingface_hub import constants

        cache = str(constants.HF_HUB_CACHE)
    except ImportError:
        cache = "the Hugging Face cache (HF_HUB_CACHE)"
    return cache, str(user_models_dir())


class DownloadModelAlgorithm(CopgenAlgorithm):
    """Needs huggingface-hub, numpy and onnxruntime (the conversion checks each graph), no torch."""

    required_modules = ("huggingface_hub", "numpy", "onnxruntime")

    def name(self) -> str:
        return "download_model"

    def displayName(self) -> str:
        return "Download a model"

    def group(self) -> str:
        return "Tools"

    def groupId(self) -> str:
        return "tools"

    def createInstance(self) -> DownloadModelAlgorithm:
        return DownloadModelAlgorithm()

    def shortHelpString(self) -> str:
        from ..install.official import OFFICIAL

        base = OFFICIAL["copgen-base"]
        cache, models = _where()
        return (
            f"<b>copgen-base</b> (the default): downloads the official {base.title} weights, "
            f"about {base.download_bytes / 1e9:.1f} GB (the backbone from {base.backbone_repo} "
            f"and the VAEs the model uses from {base.vae_repo}), into the Hugging Face cache "
            f"({cache}), where they stay for offline reuse; then builds the model package "
            "from them without torch, which needs about as much disk again, in the models "
            f"folder ({models}, or MODELS_DIR).<br>"
            "<b>owner/name</b>: a Hugging Face repository holding a ready package "
            "(manifest.json + ONNX files) is downloaded as is, every file checked.<br>"
            "Interrupted downloads resume; a cancelled or failed run installs nothing and "
            "changes no existing folder; a folder of that name not installed by this tool is "
            "never replaced. HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE (cache only) act as in "
            "huggingface-hub. Headless: python -m copgen_plugin download copgen-base."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        model = QgsProcessingParameterString("MODEL", "Model (copgen-base, or owner/name of a "
                                             "package repository)", defaultValue="copgen-base")
        model.setHelp("copgen-base: the official weights, converted here. owner/name: a "
                      "repository with a ready package (manifest.json at its root).")
        self.addParameter(model)
        revision = QgsProcessingParameterString("REVISION", "Revision to pin (branch, tag or "
                                                "commit)", defaultValue="main")
        revision.setHelp("Of the backbone (or package) repository; a commit pins it for good.")
        self.addParameter(revision)
        vae_revision = QgsProcessingParameterString(
            "VAE_REVISION", "Revision of the VAE repository (empty: as REVISION)", optional=True)
        endpoint = QgsProcessingParameterString("ENDPOINT", "Hub endpoint (empty: HF_ENDPOINT "
                                                "or https://huggingface.co)", optional=True)
        folder = QgsProcessingParameterFile("MODELS_DIR", "Models folder (empty: the per-user "
                                            "models folder)", optional=True,
                                            behavior=QgsProcessingParameterFile.Folder)
        template = QgsProcessingParameterFile("TEMPLATE", "Graph template folder (empty: the "
                                              "one shipped for the model)", optional=True,
                                              behavior=QgsProcessingParameterFile.Folder)
        vae_revision.setHelp("Branch, tag or commit of the VAE repository (copgen-base only).")
        endpoint.setHelp("A mirror or a local hub; HF_ENDPOINT is used when empty.")
        folder.setHelp("The package folder is created inside it; see copgen:diagnostics.")
        template.setHelp("Only for custom builds: a template made by `make templates`.")
        for param in (vae_revision, endpoint, folder, template):
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputFolder("PACKAGE", "Installed package folder"))
        self.addOutput(QgsProcessingOutputString("REPO_ID", "Repositories"))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ..install.download import DownloadRequest, destination, download_model

        def text(name: str) -> str | None:
            return self.parameterAsString(parameters, name, context).strip() or None

        def folder(name: str) -> Path | None:
            value = self.parameterAsFile(parameters, name, context).strip()
            return Path(value) if value else None

        request = DownloadRequest(
            model=text("MODEL") or "copgen-base", models_dir=folder("MODELS_DIR"),
            revision=text("REVISION") or "main", vae_revision=text("VAE_REVISION"),
            endpoint=text("ENDPOINT"), template=folder("TEMPLATE"))

        shown = [-1]  # the text is set once per percent: qgis_process prints every one

        def progress(fraction: float, message: str) -> None:
            feedback.setProgress(100.0 * fraction)
            if int(100 * fraction) != shown[0]:
                shown[0] = int(100 * fraction)
                feedback.setProgressText(message)

        feedback.pushInfo(f"installing {request.model} into {destination(request)}")
        try:
            result = download_model(request, progress=progress, cancel=feedback.isCanceled,
                                    info=feedback.pushInfo)
        except Cancelled as exc:
            raise QgsProcessingException(f"Cancelled: {exc}; nothing was installed") from exc
        except CopgenError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for note in result.notes:
            feedback.pushWarning(note)
        verb = ("already installed and up to date" if result.reused
                else f"installed ({result.downloaded_bytes / 1e6:.1f} MB downloaded)")
        commits = ", ".join(f"{r}@{c[:12]}" for r, c in result.commits.items())
        feedback.pushInfo(f"{request.model} from {commits}: {verb} at {result.path}")
        return {"PACKAGE": str(result.path), "REPO_ID": result.repo_ids}
