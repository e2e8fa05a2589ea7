"""copgen:download_model through processing.run in a real QGIS, against the fake hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import processing
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from tests.install.fake_hub import FakeHub
from tests.install.helpers import PACKAGE_REPO, demo_files

TINY_KEYS = ["DEM_DEM", "S2L2A_B01_B09", "mean_timestamps"]


class _Feedback(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.texts: list[str] = []
        self.infos: list[str] = []
        self.progressChanged.connect(self.progress.append)

    def setProgressText(self, text: str) -> None:
        self.texts.append(text)
        super().setProgressText(text)

    def pushInfo(self, info: str) -> None:
        self.infos.append(info)
        super().pushInfo(info)


@pytest.fixture
def hf_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path / "hf-cache"


def test_download_model_installs_a_package_repository(copgen_plugin: Any, tmp_path: Path,
                                                      hf_cache: Path) -> None:
    hub = FakeHub(repos={PACKAGE_REPO: demo_files()})
    url = hub.start()
    models = tmp_path / "models"
    try:
        feedback = _Feedback()
        result = processing.run("copgen:download_model", {
            "MODEL": PACKAGE_REPO, "ENDPOINT": url, "MODELS_DIR": str(models)},
            feedback=feedback)
        with pytest.raises(QgsProcessingException,
                           match=f"no repository someone/absent on {url} "
                           r"\(or it is private: set HF_TOKEN\)"):
            processing.run("copgen:download_model", {
                "MODEL": "someone/absent", "ENDPOINT": url, "MODELS_DIR": str(models)})
        with pytest.raises(QgsProcessingException, match="is not an http"):
            processing.run("copgen:download_model", {
                "MODEL": PACKAGE_REPO, "ENDPOINT": "file:///tmp", "MODELS_DIR": str(models)})
    finally:
        hub.stop()
    package = Path(result["PACKAGE"])
    assert package == models / "copgen-demo-package" and result["REPO_ID"] == PACKAGE_REPO
    for name, data in demo_files().items():
        if name != "README.md":
            assert (package / name).read_bytes() == data
    assert feedback.progress and feedback.progress[-1] == pytest.approx(100.0)
    assert any("MB to download into " + str(hf_cache) in i for i in feedback.infos)
    assert any("denoiser.onnx" in t for t in feedback.texts)
    assert sorted(p.name for p in models.iterdir()) == ["copgen-demo-package"]


def test_download_model_help_says_size_and_where(copgen_plugin: Any) -> None:
    from qgis.core import QgsApplication

    alg = QgsApplication.processingRegistry().algorithmById("copgen:download_model")
    text = alg.shortHelpString()
    assert "about 4.5 GB" in text and "mespinosami/copgen-base" in text
    assert "Hugging Face cache" in text and "models folder" in text


@pytest.mark.slow  # ~25 s: most of it builds the tiny graph template with torch
def test_download_model_converts_the_official_weights(copgen_plugin: Any, tmp_path: Path,
                                                      hf_cache: Path) -> None:
    """The default route (copgen-base) at tiny size: official-layout repositories on the fake
    hub -> the package, converted without torch inside QGIS, which the engine loads."""
    from models.templates import build_template
    from tests.install.conftest import vae_files, write_official_layout
    from tests.install.test_download_official import official_repos

    template = build_template(tmp_path / "template", "tiny", modalities=TINY_KEYS,
                              precisions=("fp32",))
    checkpoints = write_official_layout(tmp_path / "official", seed=3)
    hub = FakeHub(repos=official_repos(checkpoints))
    url = hub.start()
    models = tmp_path / "models"
    try:
        feedback = _Feedback()
        result = processing.run("copgen:download_model", {
            "ENDPOINT": url, "MODELS_DIR": str(models), "TEMPLATE": str(template)},
            feedback=feedback)
    finally:
        hub.stop()
    from copgen_plugin.engine.package import load_package

    package = load_package(result["PACKAGE"], verify="full", cache_path=tmp_path / "v.json")
    assert Path(result["PACKAGE"]) == models / "copgen-base"
    assert result["REPO_ID"] == "mespinosami/copgen-base, mespinosami/copgen-vaes"
    assert package.network_order == tuple(TINY_KEYS)
    assert feedback.progress[-1] == pytest.approx(100.0)
    assert any(t.startswith("writing ") for t in feedback.texts)  # the conversion's steps
    assert any(f"{len(vae_files(checkpoints)) + 1} file(s)" in i for i in feedback.infos)
