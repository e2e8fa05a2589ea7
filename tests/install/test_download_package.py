"""A ready package repository through the fake hub: install, resume, cancel, offline, and the
security cases of issue 13 (a: names from a remote manifest, b: existing folders)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from copgen_plugin.engine.package import load_package
from copgen_plugin.errors import Cancelled, HubError
from copgen_plugin.install.download import DownloadRequest, download_model
from copgen_plugin.install.staging import MARKER
from tests.install.fake_hub import FakeHub
from tests.install.helpers import PACKAGE_REPO, demo_files, tree

Start = Callable[..., tuple[FakeHub, str]]
NAME = PACKAGE_REPO.split("/")[1]


def _request(url: str, models: Path, **kw: object) -> DownloadRequest:
    return DownloadRequest(**{"model": PACKAGE_REPO, "endpoint": url, "models_dir": models,
                              **kw})  # type: ignore[arg-type]


def _package_bytes() -> int:
    """What an install downloads: the manifest and the files it lists (not the README)."""
    return sum(len(b) for n, b in demo_files().items() if n != "README.md")


def _file_gets(hub: FakeHub) -> list[str]:
    return [r.file for r in hub.log if r.method == "GET" and r.file]


def test_installs_a_package_the_engine_loads(start_hub: Start, hub_env: Path,
                                             tmp_path: Path) -> None:
    hub, url = start_hub({PACKAGE_REPO: demo_files()})
    seen: list[tuple[float, str]] = []
    result = download_model(_request(url, tmp_path / "models"),
                            progress=lambda f, m: seen.append((f, m)))
    assert result.path == tmp_path / "models" / NAME and result.kind == "package"
    assert result.commits == {PACKAGE_REPO: hub.commit(PACKAGE_REPO)} and not result.reused
    assert result.downloaded_bytes == _package_bytes()
    package = load_package(result.path, verify="full")
    assert package.model_id == "copgen-demo"
    for name, data in demo_files().items():
        if name != "README.md":
            assert (result.path / name).read_bytes() == data
    record = json.loads((result.path / MARKER).read_text())
    assert record["repos"][PACKAGE_REPO]["commit"] == hub.commit(PACKAGE_REPO)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [NAME]  # no staging left
    fractions = [f for f, _ in seen]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any("denoiser.onnx, file" in m and "MB)" in m for _, m in seen)
    # the graphs came from the CDN the hub redirected to, without the token, each once
    cdn = [r for r in hub.log if r.server == "cdn"]
    listed = json.loads(demo_files()["manifest.json"])["files"]
    assert sorted(r.file for r in cdn) == sorted(f"{PACKAGE_REPO}/{n}" for n in listed)
    assert {r.authorization for r in cdn} == {None}
    hub.log.clear()
    again = download_model(_request(url, tmp_path / "models"))
    assert again.reused and again.downloaded_bytes == 0 and _file_gets(hub) == []


def test_dropped_connection_resumes_with_a_range(start_hub: Start, hub_env: Path,
                                                 tmp_path: Path) -> None:
    key = f"{PACKAGE_REPO}/denoiser.onnx"
    hub, url = start_hub({PACKAGE_REPO: demo_files()}, cut_once={key})
    result = download_model(_request(url, tmp_path / "models"))
    size = len(demo_files()["denoiser.onnx"])
    assert (result.path / "denoiser.onnx").read_bytes() == demo_files()["denoiser.onnx"]
    ranges = [r.range for r in hub.log if r.file == key and r.server == "cdn"]
    assert ranges == [None, f"bytes={size // 2}-"] and hub.bytes_sent[key] == size


def test_cancel_installs_nothing_and_the_next_run_resumes(start_hub: Start, hub_env: Path,
                                                          tmp_path: Path) -> None:
    hub, url = start_hub({PACKAGE_REPO: demo_files()})
    models = tmp_path / "models"
    label, calls = "", 0

    def cancel() -> bool:  # asked before each chunk: stop at the denoiser's third chunk
        nonlocal calls
        calls += "denoiser.onnx" in label
        return calls > 2

    def progress(fraction: float, message: str) -> None:
        nonlocal label
        label = message

    with pytest.raises(Cancelled, match="kept and resumed next time"):
        download_model(_request(url, models), cancel=cancel, progress=progress)
    assert not models.exists()
    partial = list(hub_env.rglob("*.incomplete"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    kept = partial[0].stat().st_size
    done = sum(p.stat().st_size for p in hub_env.rglob("blobs/*") if p != partial[0])
    result = download_model(_request(url, models))
    total = _package_bytes()
    assert result.downloaded_bytes == total - done - kept  # finished files reused, one resumed
    key = f"{PACKAGE_REPO}/denoiser.onnx"
    assert [r.range for r in hub.log if r.file == key and r.server == "cdn"] == [
        None, f"bytes={kept}-"]
    load_package(result.path, verify="full")


def test_offline_reuses_the_cache_and_says_what_is_missing(
        start_hub: Start, hub_env: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    hub, url = start_hub({PACKAGE_REPO: demo_files()})
    download_model(_request(url, tmp_path / "a"))
    hub.log.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    offline = download_model(_request(url, tmp_path / "b"))
    assert hub.log == []  # not one request
    assert offline.commits == {PACKAGE_REPO: hub.commit(PACKAGE_REPO)}
    load_package(offline.path, verify="full")
    with pytest.raises(HubError, match=r"offline mode \(HF_HUB_OFFLINE=1\): no cached copy of "
                       r"someone/other@main in .*hf-cache: run once with network access"):
        download_model(_request(url, tmp_path / "c", model="someone/other"))
    next(hub_env.rglob("snapshots/*/denoiser.onnx")).unlink()
    with pytest.raises(HubError, match="offline mode .*: not in the cache .*: "
                       f"{PACKAGE_REPO}/denoiser.onnx; run once with network access"):
        download_model(_request(url, tmp_path / "d"))
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_a_pinned_revision_installs_that_commit(start_hub: Start, hub_env: Path,
                                                tmp_path: Path) -> None:
    old = demo_files()
    manifest = json.loads(old["manifest.json"])
    manifest["model_version"] = "old-one"
    old["manifest.json"] = json.dumps(manifest).encode()
    hub, url = start_hub({PACKAGE_REPO: demo_files()}, revisions={PACKAGE_REPO: {"v1": old}})
    models = tmp_path / "models"
    pinned = download_model(_request(url, models, revision="v1"))
    assert load_package(pinned.path).model_version == "old-one"
    latest = download_model(_request(url, models))  # our own older install: replaced
    assert not latest.reused and latest.commits[PACKAGE_REPO] == hub.commit(PACKAGE_REPO)
    assert load_package(latest.path).model_version != "old-one"
    by_commit = download_model(_request(url, models, revision=hub.commit(PACKAGE_REPO, "v1")))
    assert load_package(by_commit.path).model_version == "old-one"
    assert sorted(p.name for p in models.iterdir()) == [NAME]


@pytest.mark.parametrize("bad", ["../../escaped.onnx", "/tmp/escaped.onnx", "..\\escaped.onnx",
                                 "sub/../../escaped.onnx", "C:escaped.onnx"])
def test_remote_manifest_names_are_refused_before_anything_is_written(
        start_hub: Start, hub_env: Path, tmp_path: Path, bad: str) -> None:
    """Issue 13 a: the names of a remote manifest pass the package parser's rule first."""
    files = demo_files()
    manifest = json.loads(files["manifest.json"])
    payload = b"#!/bin/sh\necho owned\n"
    manifest["files"][bad] = {"sha256": hashlib.sha256(payload).hexdigest(),
                              "bytes": len(payload)}
    files["manifest.json"] = json.dumps(manifest).encode()
    hub, url = start_hub({PACKAGE_REPO: files})
    work = tmp_path / "work"
    models = work / "models"
    (work / "tmp").mkdir(parents=True)
    before = tree(tmp_path)
    with pytest.raises(HubError, match=r"not a valid package manifest: manifest: file name "
                       ".* must be relative to the package"):
        download_model(_request(url, models))
    after = {k: v for k, v in tree(tmp_path).items() if not k.startswith("hf-cache")}
    assert after == before
    assert not list(Path("/tmp").glob("escaped.onnx"))
    assert not [r for r in hub.log if r.file and r.file.endswith("escaped.onnx")]
    cached = [p.name for p in hub_env.rglob("blobs/*")]
    assert cached == [hashlib.sha1(b"blob %d\0" % len(files["manifest.json"])
                                   + files["manifest.json"]).hexdigest()]


def test_an_existing_folder_not_ours_is_refused_and_kept(start_hub: Start, hub_env: Path,
                                                         tmp_path: Path) -> None:
    """Issue 13 b: never delete or overwrite a folder this tool did not create."""
    _, url = start_hub({PACKAGE_REPO: demo_files()})
    models = tmp_path / "models"
    mine = models / NAME
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.txt").write_text("years of work")
    (mine / "manifest.json").write_text("{}")
    before = tree(tmp_path)
    with pytest.raises(HubError, match=f"{mine} already exists and was not installed by this "
                       rf"tool \(it has no {MARKER}\); nothing was changed: move or rename"):
        download_model(_request(url, models))
    assert tree(tmp_path) == before
    (models / "file-in-the-way").write_text("x")
    with pytest.raises(HubError, match="is not a package folder this tool installed"):
        download_model(_request(url, models, dest=models / "file-in-the-way"))


def test_an_inconsistent_repository_installs_nothing(start_hub: Start, hub_env: Path,
                                                     tmp_path: Path) -> None:
    files = demo_files()
    files["denoiser.onnx"] = files["denoiser.onnx"][:-1] + b"\0"  # same size, other bytes
    _, url = start_hub({PACKAGE_REPO: files})
    with pytest.raises(HubError, match=r"denoiser\.onnx in the repository .* differs from "
                       r"the manifest"):
        download_model(_request(url, tmp_path / "models"))
    assert not (tmp_path / "models" / NAME).exists()
    del files["denoiser.onnx"]
    _, url = start_hub({PACKAGE_REPO: files})
    with pytest.raises(HubError, match=r"manifest\.json lists denoiser\.onnx, which "
                       r"the repository does not hold"):
        download_model(_request(url, tmp_path / "models"))
    _, url = start_hub({PACKAGE_REPO: {"manifest.json": b" " * (17 << 20)}})
    with pytest.raises(HubError, match=r"manifest\.json has 17825792 bytes, more than any "
                       r"package manifest"):
        download_model(_request(url, tmp_path / "models"))


def test_a_renamed_repository_is_followed(start_hub: Start, hub_env: Path,
                                          tmp_path: Path) -> None:
    hub, url = start_hub({"someone/new-name": demo_files()},
                         renamed={PACKAGE_REPO: "someone/new-name"})
    result = download_model(_request(url, tmp_path / "models"))
    assert result.path == tmp_path / "models" / NAME
    load_package(result.path, verify="full", cache_path=tmp_path / "v.json")
    redirected = [r for r in hub.log if r.path.startswith(f"/{PACKAGE_REPO}/resolve/")]
    assert redirected  # the old name was asked for and answered with a redirect


def test_an_unreachable_hub_falls_back_to_the_cache(start_hub: Start, hub_env: Path,
                                                    tmp_path: Path) -> None:
    _, url = start_hub({PACKAGE_REPO: demo_files()})
    download_model(_request(url, tmp_path / "a"))
    result = download_model(_request("http://127.0.0.1:9", tmp_path / "b"))
    assert result.notes == [f"hub unreachable: using the cached {PACKAGE_REPO}@main"]
    load_package(result.path, verify="full", cache_path=tmp_path / "v.json")
    with pytest.raises(HubError, match=r"cannot reach http://127\.0\.0\.1:9 .*; and the cache "
                       r".* holds no copy of someone/other@main"):
        download_model(_request("http://127.0.0.1:9", tmp_path / "c", model="someone/other"))


def test_staging_left_by_a_killed_run_is_cleared_and_nothing_else(
        start_hub: Start, hub_env: Path, tmp_path: Path) -> None:
    import socket
    import subprocess

    _, url = start_hub({PACKAGE_REPO: demo_files()})
    models = tmp_path / "models"
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed = models / f".{NAME}.copgen-staging-killed"
    (killed / "package").mkdir(parents=True)
    (killed / ".copgen-staging.json").write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "dest": str(models / NAME)}))
    foreign = models / f".{NAME}.copgen-staging-not-ours"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    download_model(_request(url, models))
    assert not killed.exists() and (foreign / "keep.txt").read_text() == "not ours"
    assert sorted(p.name for p in models.iterdir()) == sorted([NAME, foreign.name])
