"""models.fetch against a fake hub on 127.0.0.1: download, resume, offline mode, bad layouts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from models.configs import MODALITIES
from models.fetch import MODELS, FetchError, HubSettings, fetch_checkpoints
from models.manifest import verify_package
from tests.install.fake_hub import FakeHub
from tests.models.conftest import max_abs, ort_session
from tests.models.layouts import KIT, training_checkpoint

REPO = Path(__file__).resolve().parents[2]
NNET = "mespinosami/copgen-base/500000_nnet_ema.pth"


def hub_repos() -> dict[str, dict[str, bytes]]:
    """The kit's tiny weights laid out as the two published repositories plausibly are."""
    vaes: dict[str, bytes] = {"README.md": b"# copgen-vaes\n", ".gitattributes": b"*.pth lfs\n"}
    info = json.loads((KIT / "vae_tiny_config.json").read_text())["modalities"]
    for key, entry in info.items():
        folder = MODALITIES[key].vae_folder
        if key == "DEM_DEM":  # only a training file: needs the EMA extraction
            buf = io.BytesIO()
            torch.save(training_checkpoint(torch.load(KIT / entry["file"], weights_only=True)),
                       buf)
            vaes[f"{folder}/model-50.pt"] = buf.getvalue()
        else:
            vaes[f"{folder}/model-50-ema.pth"] = (KIT / entry["file"]).read_bytes()
    base = {"README.md": b"# copgen-base\n",
            "500000_nnet_ema.pth": (KIT / "nnet_tiny.pth").read_bytes()}
    return {"mespinosami/copgen-base": base, "mespinosami/copgen-vaes": vaes}


@dataclass
class Fetched:
    hub: FakeHub
    url: str
    cache: Path
    package: Path
    proc: subprocess.CompletedProcess[str]


def run_fetch(out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "models.fetch", "copgen-base", "--out", str(out),
         "--config", "tiny", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def hub_env(url: str, cache: Path, offline: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env |= {"HF_ENDPOINT": url, "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "hf"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fetched]:
    root = tmp_path_factory.mktemp("fetch")
    hub = FakeHub(hub_repos(), cut_once={NNET})
    url = hub.start()
    try:
        proc = run_fetch(root / "pkg", hub_env(url, root / "cache"))
        yield Fetched(hub, url, root / "cache", root / "pkg", proc)
    finally:
        hub.stop()


def test_fetch_resumes_an_interrupted_download_and_exports(fetched: Fetched,
                                                           cases: dict[str, Any]) -> None:
    assert fetched.proc.returncode == 0, fetched.proc.stderr
    assert "interrupted" in fetched.proc.stderr and "resuming" in fetched.proc.stderr
    size = (KIT / "nnet_tiny.pth").stat().st_size
    gets = [r for r in fetched.hub.log  # the bytes come from the CDN the hub redirects to
            if r.method == "GET" and r.server == "cdn" and r.file == NNET]
    assert len(gets) == 2 and gets[0].range is None
    assert gets[1].range == f"bytes={size // 2}-"  # resumed where the cut left it
    assert fetched.hub.bytes_sent[NNET] == size  # no byte was sent twice
    blobs = list((fetched.cache / "models--mespinosami--copgen-base" / "blobs").iterdir())
    assert not [b for b in blobs if b.name.endswith(".incomplete")]

    m = verify_package(fetched.package)
    assert m["weights"]["denoiser"]["repository"] == "mespinosami/copgen-base"
    assert m["weights"]["DEM_DEM"]["file"] == "DEM_64x64_DEM_latent_8/model-50.pt"
    order = m["network_order"]
    t = cases["backbone__t__p0"]
    feeds = {f"z_{k}": cases[f"backbone__z__{k}"] for k in order}
    feeds |= {f"t_{k}": t[:, j].copy() for j, k in enumerate(order)}
    outs = ort_session(fetched.package / "denoiser.onnx").run(None, feeds)
    for k, out in zip(order, outs, strict=True):
        assert max_abs(out, cases[f"backbone__eps__p0__{k}"]) <= 1e-5, k
    dec = ort_session(fetched.package / "decoder_DEM_DEM.onnx")
    assert max_abs(dec.run(None, {"latent": cases["vae__zdec__DEM_DEM"]})[0],
                   cases["vae__xdec__DEM_DEM"]) <= 5e-5


def test_offline_mode_uses_the_cache_and_no_network(fetched: Fetched, tmp_path: Path) -> None:
    assert fetched.proc.returncode == 0
    before = len(fetched.hub.log)
    proc = run_fetch(tmp_path / "pkg", hub_env(fetched.url, fetched.cache, offline=True),
                     "--download-only")
    assert proc.returncode == 0, proc.stderr
    assert len(fetched.hub.log) == before  # not one request reached the hub
    snapshot = Path(proc.stdout.strip())
    assert snapshot.parent.parent == fetched.cache / "models--mespinosami--copgen-base"
    assert (snapshot / "500000_nnet_ema.pth").read_bytes() == (KIT / "nnet_tiny.pth").read_bytes()


def test_offline_without_cache_fails_clearly(tmp_path: Path) -> None:
    proc = run_fetch(tmp_path / "pkg",
                     hub_env("http://127.0.0.1:9", tmp_path / "empty-cache", offline=True))
    assert proc.returncode == 2
    assert "offline mode (HF_HUB_OFFLINE)" in proc.stderr
    assert "no cached copy of mespinosami/copgen-base" in proc.stderr
    assert not (tmp_path / "pkg").exists()


def test_unreachable_hub_falls_back_to_the_cache(fetched: Fetched) -> None:
    assert fetched.proc.returncode == 0
    hub = HubSettings(endpoint="http://127.0.0.1:9", cache_dir=fetched.cache)
    nnet, vaes = fetch_checkpoints(MODELS["copgen-base"], hub)
    assert nnet.path.read_bytes() == (KIT / "nnet_tiny.pth").read_bytes()
    assert vaes["DEM_DEM"].training and not vaes["LULC_LULC"].training


def test_unknown_layout_names_what_was_found(tmp_path: Path) -> None:
    repos = hub_repos()
    repos["mespinosami/copgen-vaes"] = {"README.md": b"x", "weights/all_vaes.bin": b"x"}
    hub = FakeHub(repos)
    url = hub.start()
    try:
        with pytest.raises(FetchError) as err:
            fetch_checkpoints(MODELS["copgen-base"],
                              HubSettings(endpoint=url, cache_dir=tmp_path / "cache"))
    finally:
        hub.stop()
    msg = str(err.value)
    assert "mespinosami/copgen-vaes" in msg and "weights/all_vaes.bin" in msg
    assert "DEM_DEM VAE (<DEM_64x64_DEM_latent_8>/model-50-ema.pth or model-50.pt)" in msg
    assert not any(r.path.endswith(".pth") for r in hub.log)  # nothing downloaded
