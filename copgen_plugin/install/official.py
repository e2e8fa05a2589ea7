"""The official COP-GEN weights: which repositories, and which of their files a template needs.

The official code clones two repositories: the backbone (the EMA state dict at the root,
``500000_nnet_ema.pth``) and the VAEs (one folder per VAE, named as in ``models/configs.py``,
each holding ``model-50-ema.pth``). Other steps (``nnet_ema_<step>.pth``,
``<step>_nnet_ema.pth``) and ``.safetensors`` copies are accepted; the newest step wins and, at
equal steps, safetensors (no pickle at all) before ``.pth``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import HubError
from .hub_client import Snapshot

BACKBONE_FILE = re.compile(r"(?:(?P<a>\d+)_nnet_ema|nnet_ema_(?P<b>\d+)|nnet_ema)"
                           r"\.(?P<ext>pth|safetensors)")
VAE_FILE = re.compile(r"model-(?P<step>\d+)-ema\.(?P<ext>pth|safetensors)")
WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".onnx", ".data", ".bin", ".ckpt")


@dataclass(frozen=True)
class OfficialModel:
    """A model the plugin converts from official checkpoints, and its download size."""

    backbone_repo: str
    vae_repo: str
    template: str
    download_bytes: int  # backbone + the VAEs the template needs, fp32 (for texts before listing)
    title: str


#: 287 M backbone parameters (1.15 GB) + 10 VAEs of 84 M parameters (0.33 GB each), fp32
OFFICIAL: dict[str, OfficialModel] = {
    "copgen-base": OfficialModel("mespinosami/copgen-base", "mespinosami/copgen-vaes",
                                 "copgen-base", 4_500_000_000, "COP-GEN base"),
}


def _shown(snapshot: Snapshot, limit: int = 30) -> str:
    names = sorted(snapshot.files)
    more = f", ... ({len(names)} files)" if len(names) > limit else ""
    return (", ".join(names[:limit]) + more) if names else "no files"


def _where(snapshot: Snapshot) -> str:
    return (f"the local cache's copy of {snapshot.label} (offline or hub unreachable: run "
            "once with network access to download what is missing)" if snapshot.from_cache
            else f"{snapshot.label} (commit {snapshot.commit[:12]})")


def choose_backbone(snapshot: Snapshot) -> str:
    """The newest backbone EMA checkpoint at the repository root."""
    ranked = []
    for name in snapshot.files:
        match = BACKBONE_FILE.fullmatch(name)
        if match:
            step = int(match["a"] or match["b"] or -1)
            ranked.append((step, match["ext"] == "safetensors", name))
    if not ranked:
        raise HubError(f"{_where(snapshot)} has no backbone checkpoint (500000_nnet_ema.pth, "
                       f"nnet_ema_<step>.pth or .safetensors at the root); found: "
                       f"{_shown(snapshot)}")
    return max(ranked)[2]


def choose_vaes(snapshot: Snapshot, folders: list[str]) -> dict[str, str]:
    """Per VAE folder the template needs, its newest EMA checkpoint (or a HubError naming all
    that are missing and what the repository holds)."""
    chosen: dict[str, str] = {}
    missing: list[str] = []
    for folder in folders:
        ranked = []
        for name in snapshot.files:
            head, _, base = name.rpartition("/")
            match = VAE_FILE.fullmatch(base)
            if head == folder and match:
                ranked.append((int(match["step"]), match["ext"] == "safetensors", name))
        if ranked:
            chosen[folder] = max(ranked)[2]
        else:
            missing.append(f"{folder}/model-50-ema.pth")
    if missing:
        raise HubError(f"{_where(snapshot)} lacks {len(missing)} VAE checkpoint(s) the model "
                       f"needs: {', '.join(missing)}; found: {_shown(snapshot)}")
    return chosen


def is_official_backbone_repo(snapshot: Snapshot) -> bool:
    return any(BACKBONE_FILE.fullmatch(name) for name in snapshot.files)


def is_weight_file(name: str) -> bool:
    return name.lower().endswith(WEIGHT_SUFFIXES)
