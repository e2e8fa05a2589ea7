"""copgen:download_model through processing.run against a local stand-in hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import processing
import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from fake_hub import FakeHub

REPO = "someone/tiny-package"


def _files() -> dict[str, bytes]:
    files = {"denoiser.onnx": b"\x08\x01" * 50_000}
    manifest = {"format": "copgen-model-package", "model_id": "tiny", "model_version": "2",
                "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                          for n, b in files.items()}}
    return {**files, "manifest.json": json.dumps(manifest).encode()}


class _Feedback(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.progressChanged.connect(self.progress.append)


def test_download_model_installs_package(copgen_plugin: Any, tmp_path: Path) -> None:
    hub = FakeHub(repos={REPO: _files()})
    url = hub.start()
    try:
        feedback = _Feedback()
        result = processing.run("copgen:download_model", {
            "MODEL": REPO, "ENDPOINT": url, "MODELS_DIR": str(tmp_path)}, feedback=feedback)
        with pytest.raises(QgsProcessingException, match="not found"):
            processing.run("copgen:download_model", {
                "MODEL": "someone/absent", "ENDPOINT": url, "MODELS_DIR": str(tmp_path)})
    finally:
        hub.stop()
    package = Path(result["PACKAGE"])
    assert package == tmp_path / "tiny-package" and result["REPO_ID"] == REPO
    for name, data in _files().items():
        assert (package / name).read_bytes() == data
    assert feedback.progress and feedback.progress[-1] == pytest.approx(100.0)
    assert not (tmp_path / "absent").exists()
