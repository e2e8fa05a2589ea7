"""Write checkpoint folders laid out like the official releases, from the parity kit's weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from models.configs import MODALITIES

KIT = Path(__file__).resolve().parents[1] / "fixtures" / "parity"


def training_checkpoint(state: dict[str, torch.Tensor]) -> dict[str, object]:
    """A ``model-50.pt``-style training dict: only ``ema.ema_model.*`` holds the real weights."""
    online = {f"online_model.{k}": torch.zeros_like(v) for k, v in state.items()}
    ema = {f"ema_model.{k}": v.clone() for k, v in state.items()}
    ema["ema_model.loss.discriminator.main.0.weight"] = torch.ones(4, 3, 1, 1)
    return {
        "step": 500000,
        "model": {k: torch.zeros_like(v) for k, v in state.items()},
        "opt_ae": {"state": {}, "param_groups": [{"lr": 1e-6, "params": [0, 1]}]},
        "lr_scheduler_ae": {"last_epoch": 5, "_step_count": 6},
        "opt_disc": None,
        "lr_scheduler_disc": None,
        "ema": {"initted": torch.tensor(True), "step": torch.tensor(500000), **online, **ema},
        "scaler": None,
    }


def kit_checkpoint_dir(dst: Path, *, training: set[str] | frozenset[str] = frozenset(),
                       nnet_rel: str = "500000_nnet_ema.pth", vae_root: str = "vae",
                       keys: list[str] | None = None) -> Path:
    """Tiny official-format checkpoints: the backbone and one VAE folder per image modality.

    Modalities in ``training`` get only a training file ``model-50.pt`` (needs EMA extraction).
    """
    dst.mkdir(parents=True, exist_ok=True)
    (dst / nnet_rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KIT / "nnet_tiny.pth", dst / nnet_rel)
    info = json.loads((KIT / "vae_tiny_config.json").read_text())["modalities"]
    for key, entry in info.items():
        if keys is not None and key not in keys:
            continue
        folder = dst / vae_root / str(MODALITIES[key].vae_folder)
        folder.mkdir(parents=True, exist_ok=True)
        if key in training:
            state = torch.load(KIT / entry["file"], weights_only=True)
            torch.save(training_checkpoint(state), folder / "model-50.pt")
        else:
            shutil.copyfile(KIT / entry["file"], folder / "model-50-ema.pth")
    return dst
