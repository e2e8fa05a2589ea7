"""copgen:download_model through processing.run in a real QGIS, against the fake hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import processing
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from tests.install.fake_hub import FakeHub
from tests.install.helpers import PACKAGE_REPO, demo_files


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
