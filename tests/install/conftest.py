"""Fixtures of the install tests: tiny official-layout checkpoints (written with torch) and a
tiny graph template, built once; the fake hub and a clean hub environment for the downloads."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from models.configs import select_modalities
from models.locate import EMA_FILE, NNET_FILE
from models.templates import build_template, random_backbone, random_vae
from tests.install.fake_hub import FakeHub

#: a small subset keeps the template build and the exports to a few seconds
KEYS = ["DEM_DEM", "S2L2A_B01_B09", "mean_timestamps"]
SPECS = select_modalities(KEYS)
VAE_FOLDERS = {s.key: str(s.vae_folder) for s in SPECS if s.is_image}

torch.set_num_threads(2)


def write_official_layout(root: Path, seed: int, dtype: torch.dtype = torch.float32) -> Path:
    """``500000_nnet_ema.pth`` + ``vae/<folder>/model-50-ema.pth``, as the official repos hold."""
    root.mkdir(parents=True, exist_ok=True)
    sd = {k: v.to(dtype) for k, v in random_backbone("tiny", SPECS, seed).state_dict().items()}
    torch.save(sd, root / NNET_FILE)
    for spec in SPECS:
        if spec.is_image:
            folder = root / "vae" / str(spec.vae_folder)
            folder.mkdir(parents=True)
            vae = random_vae("tiny", spec, seed)
            torch.save({k: v.to(dtype) for k, v in vae.state_dict().items()}, folder / EMA_FILE)
    return root


def vae_files(root: Path) -> dict[str, Path]:
    return {f: root / "vae" / f / EMA_FILE for f in VAE_FOLDERS.values()}


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("template") / "copgen-tiny"
    return build_template(out, "tiny", modalities=KEYS, precisions=("fp32",))


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_official_layout(tmp_path_factory.mktemp("ckpt") / "official", seed=7)


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No token, online, and a private hub cache: nothing of the user's hub setup leaks in."""
    from huggingface_hub import constants

    for key in list(os.environ):
        if key.startswith(("HF_", "HUGGING_FACE")):
            monkeypatch.delenv(key)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def start_hub() -> Iterator[Callable[..., tuple[FakeHub, str]]]:
    """Start fake hubs (stopped at the end of the test): ``start_hub(repos, **options)``."""
    started: list[FakeHub] = []

    def start(repos: dict[str, dict[str, bytes]], **options: object) -> tuple[FakeHub, str]:
        hub = FakeHub(repos, **options)  # type: ignore[arg-type]
        url = hub.start()
        started.append(hub)
        return hub, url

    yield start
    for hub in started:
        hub.stop()
