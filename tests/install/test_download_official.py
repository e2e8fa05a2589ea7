"""The official route at tiny size: a fake hub serving the two official-layout repositories
(tiny random weights) -> ``python -m copgen_plugin download copgen-base`` -> a package the engine
loads, equal to the one converted from the same files locally; resume, cancel, offline reuse."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from copgen_plugin.engine.package import load_package
from copgen_plugin.errors import Cancelled, HubError, InstallError
from copgen_plugin.install.convert import install_from_checkpoints
from copgen_plugin.install.download import DownloadRequest, download_model
from copgen_plugin.install.hub_client import RemoteFile, Snapshot
from copgen_plugin.install.official import choose_backbone, choose_vaes
from models.locate import EMA_FILE, NNET_FILE
from tests.install.conftest import vae_files
from tests.install.fake_hub import FakeHub, lfs_pointer
from tests.install.test_cli_download import REPO, cli_env, run_cli

Start = Callable[..., tuple[FakeHub, str]]
#: the CLI in a Python where torch, onnx and the torch-side models package cannot import
NO_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "onnx", "models"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
from copgen_plugin.cli import main
sys.exit(main(sys.argv[1:]))
"""
BASE, VAES = "mespinosami/copgen-base", "mespinosami/copgen-vaes"
NOT_NEEDED = "S1RTC_192x192_VV_VH_latent_8/model-50-ema.pth"


def official_repos(checkpoints: Path) -> dict[str, dict[str, bytes]]:
    """The two repositories as published: README, .gitattributes, the backbone at the root, one
    folder per VAE (here also one the tiny template does not need)."""
    vaes = {f"{folder}/{EMA_FILE}": path.read_bytes()
            for folder, path in vae_files(checkpoints).items()}
    vaes |= {"README.md": b"# copgen-vaes\n", ".gitattributes": b"*.pth filter=lfs\n",
             NOT_NEEDED: b"\x80" * 5000}
    return {BASE: {"README.md": b"# copgen-base\n", ".gitattributes": b"*.pth filter=lfs\n",
                   NNET_FILE: (checkpoints / NNET_FILE).read_bytes()},
            VAES: vaes}


def test_cli_installs_copgen_base_from_the_official_repositories(
        start_hub: Start, tiny_template: Path, checkpoints: Path, tmp_path: Path) -> None:
    nnet = f"{BASE}/{NNET_FILE}"
    hub, url = start_hub(official_repos(checkpoints), cut_once={nnet})
    cache, out = tmp_path / "cache", tmp_path / "copgen-base"
    proc = run_cli(cli_env(url, cache), "copgen-base", "--out", str(out), "--template",
                   str(tiny_template))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out) and "100%" in proc.stderr
    package = load_package(out, verify="full", cache_path=tmp_path / "v.json")
    assert package.network_order == ("DEM_DEM", "S2L2A_B01_B09", "mean_timestamps")
    manifest = json.loads((out / "manifest.json").read_text())
    commit = hub.commit(BASE)
    assert manifest["weights"]["denoiser"]["source"] == f"{url}/{BASE}/{NNET_FILE}@{commit}"
    # only what the template needs was fetched; the cut transfer resumed with a Range; no
    # token or repeated byte reached the file server
    fetched = sorted({r.file for r in hub.log if r.server == "cdn"})
    assert fetched == sorted([nnet] + [f"{VAES}/{f}/{EMA_FILE}"
                                       for f in vae_files(checkpoints)])
    size = (checkpoints / NNET_FILE).stat().st_size
    assert [r.range for r in hub.log if r.file == nnet and r.server == "cdn"] == [
        None, f"bytes={size // 2}-"]
    # the same graphs as a conversion of the same files without the hub
    local = install_from_checkpoints(tiny_template, checkpoints / NNET_FILE,
                                     vae_files(checkpoints), tmp_path / "local")
    for graph in sorted(local.glob("*.onnx*")):
        assert (out / graph.name).read_bytes() == graph.read_bytes(), graph.name
    # offline, from the cache only: not one request; and torch cannot even be imported
    hub.log.clear()
    again = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "download", "copgen-base", "--out",
         str(tmp_path / "offline"), "--template", str(tiny_template)],
        cwd=REPO, env=cli_env(url, cache, HF_HUB_OFFLINE="1"), capture_output=True, text=True,
        timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert hub.log == [] and (tmp_path / "offline" / "denoiser.onnx").is_file()
    up_to_date = run_cli(cli_env(url, cache), "copgen-base", "--out", str(out), "--template",
                         str(tiny_template))
    assert up_to_date.returncode == 0 and "up to date" in up_to_date.stderr


def test_cancel_in_download_or_conversion_installs_nothing(
        start_hub: Start, hub_env: Path, tiny_template: Path, checkpoints: Path,
        tmp_path: Path) -> None:
    hub, url = start_hub(official_repos(checkpoints))
    models = tmp_path / "models"
    request = DownloadRequest(endpoint=url, models_dir=models, template=tiny_template)
    stage = ""

    def progress(fraction: float, message: str) -> None:
        nonlocal stage
        stage = message

    with pytest.raises(Cancelled):  # while downloading the first file
        download_model(request, progress=progress, cancel=lambda: NNET_FILE in stage)
    assert not models.exists() and list(hub_env.rglob("*.incomplete"))
    with pytest.raises(Cancelled):  # while filling the graphs
        download_model(request, progress=progress, cancel=lambda: "writing" in stage)
    assert sorted(p.name for p in models.iterdir()) == []  # no package, no staging folder
    hub.log.clear()
    result = download_model(request)
    assert result.downloaded_bytes == 0 and result.kind == "official"  # all from the cache
    assert not [r for r in hub.log if r.server == "cdn"]
    assert sorted(p.name for p in models.iterdir()) == ["copgen-base"]
    load_package(result.path, verify="full", cache_path=tmp_path / "v.json")


def test_missing_vae_and_lfs_pointer_have_their_messages(
        start_hub: Start, hub_env: Path, tiny_template: Path, checkpoints: Path,
        tmp_path: Path) -> None:
    repos = official_repos(checkpoints)
    folder = sorted(vae_files(checkpoints))[0]
    del repos[VAES][f"{folder}/{EMA_FILE}"]
    _, url = start_hub(repos)
    request = DownloadRequest(endpoint=url, models_dir=tmp_path / "m", template=tiny_template)
    with pytest.raises(HubError, match=rf"{VAES}@main \(commit [0-9a-f]{{12}}\) lacks 1 VAE "
                       rf"checkpoint\(s\) the model needs: {folder}/model-50-ema.pth; found: "):
        download_model(request)
    repos = official_repos(checkpoints)
    repos[BASE][NNET_FILE] = lfs_pointer(repos[BASE][NNET_FILE])
    _, url = start_hub(repos)
    with pytest.raises(HubError, match=rf"{BASE}@main: {NNET_FILE} is a git-LFS pointer "
                       r"\(\d+ bytes of text\), not the file itself.*git lfs push --all"):
        download_model(DownloadRequest(endpoint=url, models_dir=tmp_path / "m",
                                       template=tiny_template))
    assert not (tmp_path / "m").exists()


def test_the_newest_backbone_step_and_safetensors_are_chosen() -> None:
    def snap(*names: str) -> Snapshot:
        return Snapshot("o/r", "main", "0" * 40, {n: RemoteFile(n, 1, "0" * 64, True)
                                                  for n in names})

    assert choose_backbone(snap("500000_nnet_ema.pth", "README.md")) == "500000_nnet_ema.pth"
    assert choose_backbone(snap("300000_nnet_ema.pth", "nnet_ema_500000.pth",
                                "sub/900000_nnet_ema.pth")) == "nnet_ema_500000.pth"
    assert choose_backbone(snap("500000_nnet_ema.pth",
                                "500000_nnet_ema.safetensors")) == "500000_nnet_ema.safetensors"
    with pytest.raises(HubError, match=r"has no backbone checkpoint .* found: README.md, "
                       r"sub/900000_nnet_ema.pth"):
        choose_backbone(snap("README.md", "sub/900000_nnet_ema.pth"))
    assert choose_vaes(snap("A/model-50-ema.pth", "A/model-60-ema.safetensors", "A/x.pth",
                            "B/model-50-ema.pth", "AB/model-90-ema.pth"), ["A", "B"]) == {
        "A": "A/model-60-ema.safetensors", "B": "B/model-50-ema.pth"}


def test_a_missing_template_is_said_before_any_request(start_hub: Start, hub_env: Path,
                                                       tmp_path: Path) -> None:
    hub, url = start_hub({})
    with pytest.raises(InstallError, match=r"no graph template .*nowhere"):
        download_model(DownloadRequest(endpoint=url, models_dir=tmp_path / "m",
                                       template=tmp_path / "nowhere"))
    assert hub.log == [] and not (tmp_path / "m").exists()
