"""copgen_plugin.hub against a local stand-in for the Hugging Face hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from fake_hub import FakeHub

from copgen_plugin import hub
from copgen_plugin.errors import Cancelled

REPO = "someone/tiny-copgen"


def _package_files() -> dict[str, bytes]:
    files = {"denoiser.onnx": bytes(range(256)) * 4000, "encoder_DEM_DEM.onnx": b"enc" * 9000}
    manifest = {"format": "copgen-model-package", "model_id": "tiny", "model_version": "1",
                "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                          for n, b in files.items()}}
    return {**files, "manifest.json": json.dumps(manifest).encode()}


@pytest.fixture
def fake_hub() -> Iterator[tuple[FakeHub, str]]:
    server = FakeHub(repos={REPO: _package_files()})
    url = server.start()
    yield server, url
    server.stop()


def test_download_installs_verified_package(fake_hub: tuple[FakeHub, str],
                                            tmp_path: Path) -> None:
    _, url = fake_hub
    seen: list[tuple[int, int]] = []
    result = hub.download_package(REPO, dest_root=tmp_path, endpoint=url,
                                  progress=lambda d, t: seen.append((d, t)))
    assert result.path == tmp_path / "tiny-copgen" and not result.reused
    for name, data in _package_files().items():
        assert (result.path / name).read_bytes() == data
    assert not (tmp_path / "tiny-copgen.partial").exists()
    totals = {t for _, t in seen}
    assert len(totals) == 1 and seen[-1][0] == totals.pop()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    again = hub.download_package(REPO, dest_root=tmp_path, endpoint=url)
    assert again.reused and again.downloaded_bytes == 0


def test_dropped_connection_resumes_with_a_range(fake_hub: tuple[FakeHub, str],
                                                 tmp_path: Path) -> None:
    server, url = fake_hub
    server.cut_once.add(f"{REPO}/denoiser.onnx")
    result = hub.download_package(REPO, dest_root=tmp_path, endpoint=url)
    data = _package_files()["denoiser.onnx"]
    assert (result.path / "denoiser.onnx").read_bytes() == data
    ranged = [r.range for r in server.log if r.path.endswith("denoiser.onnx") and r.range]
    assert ranged == [f"bytes={len(data) // 2}-"]


def test_partial_file_of_an_earlier_run_is_resumed(fake_hub: tuple[FakeHub, str],
                                                   tmp_path: Path) -> None:
    server, url = fake_hub
    data = _package_files()["denoiser.onnx"]
    staging = tmp_path / "tiny-copgen.partial"
    staging.mkdir()
    (staging / "denoiser.onnx.part").write_bytes(data[:1000])
    result = hub.download_package(REPO, dest_root=tmp_path, endpoint=url)
    assert (result.path / "denoiser.onnx").read_bytes() == data
    assert server.bytes_sent[f"{REPO}/denoiser.onnx"] == len(data) - 1000
    assert not staging.exists()


def test_cancel_installs_nothing(fake_hub: tuple[FakeHub, str], tmp_path: Path) -> None:
    _, url = fake_hub
    with pytest.raises(Cancelled):
        hub.download_package(REPO, dest_root=tmp_path, endpoint=url, cancel=lambda: True)
    assert not (tmp_path / "tiny-copgen").exists()
    assert not list((tmp_path / "tiny-copgen.partial").glob("manifest.json"))


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    files = _package_files()
    files["denoiser.onnx"] = b"tampered" + files["denoiser.onnx"][8:]
    server = FakeHub(repos={REPO: files})
    url = server.start()
    try:
        with pytest.raises(hub.HubError, match="SHA-256"):
            hub.download_package(REPO, dest_root=tmp_path, endpoint=url)
    finally:
        server.stop()
    assert not (tmp_path / "tiny-copgen").exists()


def test_unknown_repository_and_offline(fake_hub: tuple[FakeHub, str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = fake_hub
    with pytest.raises(hub.HubError, match="not found"):
        hub.download_package("someone/missing", dest_root=tmp_path, endpoint=url)
    with pytest.raises(hub.HubError, match="unknown model"):
        hub.resolve_repo("not a repo id")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub.HubError, match="offline"):
        hub.download_package(REPO, dest_root=tmp_path, endpoint=url)
