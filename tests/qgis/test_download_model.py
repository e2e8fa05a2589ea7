"""copgen:download_model through processing.run in a real QGIS, against the fake hub."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import processing
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from tests.install.fake_hub import FakeHub
from tests.install.helpers import PACKAGE_REPO, demo_files, tree

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


def _run_download(url: str, models: Path) -> str | None:
    """copgen:download_model as a user runs it; its error message, None when it succeeded."""
    try:
        processing.run("copgen:download_model", {
            "MODEL": PACKAGE_REPO, "ENDPOINT": url, "MODELS_DIR": str(models)})
    except QgsProcessingException as exc:
        return str(exc)
    return None


def test_a_remote_manifest_cannot_write_outside_the_models_folder(
        copgen_plugin: Any, tmp_path: Path, hf_cache: Path) -> None:
    """Issue 13 a through the Processing door: a repository's manifest naming an absolute
    path (whoever owns the repository or the endpoint writes it) gets an error, and nothing
    is written anywhere (before: the file landed at that path and the run succeeded)."""
    outside = tmp_path / "escaped.sh"
    payload = b"#!/bin/sh\necho owned\n"
    files = demo_files()
    manifest = json.loads(files["manifest.json"])
    manifest["files"][str(outside)] = {"sha256": hashlib.sha256(payload).hexdigest(),
                                       "bytes": len(payload)}
    files["manifest.json"] = json.dumps(manifest).encode()
    files[str(outside)] = payload  # the hub serves it under that name
    hub = FakeHub(repos={PACKAGE_REPO: files})
    url = hub.start()
    models = tmp_path / "work" / "models"
    models.mkdir(parents=True)
    before = tree(tmp_path)
    try:
        error = _run_download(url, models)
    finally:
        hub.stop()
    assert not outside.exists(), "a name from the remote manifest was written outside"
    assert error is not None and "must be relative to the package" in error, error
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith("hf-cache")} == before


def test_a_download_never_replaces_the_users_folder(copgen_plugin: Any, tmp_path: Path,
                                                    hf_cache: Path) -> None:
    """Issue 13 b through the Processing door: MODELS_DIR/<name> holding the user's own files
    is refused and kept (before: deleted, and the download installed in its place)."""
    hub = FakeHub(repos={PACKAGE_REPO: demo_files()})
    url = hub.start()
    models = tmp_path / "models"
    mine = models / PACKAGE_REPO.split("/")[1]
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.txt").write_text("years of work")
    (mine / "manifest.json").write_text("{}")
    before = tree(models)
    try:
        error = _run_download(url, models)
    finally:
        hub.stop()
    assert tree(models) == before, "the user's folder was changed"
    assert error is not None and "already exists and was not installed by this tool" in error


@pytest.mark.parametrize(("model", "endpoint", "message"), [
    ("someone/not a repo", None, "'someone/not a repo' is not a Hugging Face repository id"),
    (PACKAGE_REPO, "file:///tmp/hub", "hub endpoint 'file:///tmp/hub' is not an http(s) address"),
])
def test_hub_errors_say_what_is_wrong_and_leave_nothing(copgen_plugin: Any, tmp_path: Path,
                                                       hf_cache: Path, model: str,
                                                       endpoint: str | None,
                                                       message: str) -> None:
    """Issue 13 case 12 through the Processing door (before: "manifest.json is not a model
    package manifest" and an empty ``*.partial/`` folder left in the models folder)."""
    hub = FakeHub(repos={PACKAGE_REPO: demo_files()})
    url = hub.start()
    models = tmp_path / "models"
    models.mkdir()
    try:
        with pytest.raises(QgsProcessingException) as err:
            processing.run("copgen:download_model", {
                "MODEL": model, "ENDPOINT": endpoint or url, "MODELS_DIR": str(models)})
    finally:
        hub.stop()
    assert list(models.iterdir()) == []  # no staging or partial folder
    assert message in str(err.value)


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
