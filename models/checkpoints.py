"""Safe checkpoint loading (``weights_only=True`` only) and the VAE EMA conversion.

Official files: the backbone ``*nnet_ema.pth`` and VAE ``model-50-ema.pth`` are plain state dicts;
a VAE training file ``model-50.pt`` holds an ``ema`` entry whose ``ema_model.*`` tensors are the
inference weights (COPGEN_REFERENCE.md 2.3). Arbitrary pickled objects are never executed.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from copgen_plugin.errors import CheckpointError
from copgen_plugin.install.checkpoints import extract_ema

__all__ = ["CheckpointError", "as_state_dict", "convert_training_checkpoint",
           "extract_ema_state_dict", "load_file", "load_state_dict_file", "load_strict",
           "load_vae_weights"]

log = logging.getLogger(__name__)

def load_file(path: Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers, memory-mapped when possible."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc) and "zip" not in str(exc):
            raise CheckpointError(f"{path}: cannot load with weights_only=True: {exc}") from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot load with weights_only=True: {exc}") from exc
    try:  # legacy (non-zip) serialisation cannot be memory-mapped
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot load with weights_only=True: {exc}") from exc


def as_state_dict(obj: Any, source: str) -> OrderedDict[str, Tensor]:
    """Accept a plain ``{name: tensor}`` mapping, and nothing else."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(
            f"{source}: not a plain state dict (non-tensor entries such as {bad[:5]}); "
            "a training checkpoint needs convert_training_checkpoint()"
        )
    return OrderedDict(obj)


def load_state_dict_file(path: Path) -> OrderedDict[str, Tensor]:
    return as_state_dict(load_file(Path(path)), str(path))


def extract_ema_state_dict(training: Mapping[str, Any], source: str = "checkpoint"
                           ) -> OrderedDict[str, Tensor]:
    """``model-50.pt`` -> inference state dict: keep ``ema_model.*``, strip it, drop ``loss.*``."""
    ema = training.get("ema") if isinstance(training, Mapping) else None
    if not isinstance(ema, Mapping):
        keys = list(training)[:10] if isinstance(training, Mapping) else type(training).__name__
        raise CheckpointError(f"{source}: no 'ema' state in training checkpoint (found {keys})")
    return extract_ema(ema, source, lambda value: isinstance(value, Tensor))


def convert_training_checkpoint(src: Path, dst: Path | None = None) -> OrderedDict[str, Tensor]:
    """Load a VAE training file safely, extract the EMA weights, optionally save them as .pth."""
    sd = extract_ema_state_dict(load_file(Path(src)), str(src))
    if dst is not None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(dst.suffix + ".tmp")
        torch.save(sd, tmp)
        tmp.replace(dst)
        log.info("converted %s -> %s (%d tensors)", src, dst, len(sd))
    return sd


def load_vae_weights(path: Path) -> OrderedDict[str, Tensor]:
    """A VAE file of either kind: plain ``model-50-ema.pth`` or training ``model-50.pt``."""
    obj = load_file(Path(path))
    if isinstance(obj, Mapping) and "ema" in obj and not isinstance(obj.get("ema"), Tensor):
        return extract_ema_state_dict(obj, str(path))
    return as_state_dict(obj, str(path))


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Strict load with a readable message listing the first missing / unexpected keys."""
    own = set(module.state_dict())
    got = set(state)
    missing, unexpected = sorted(own - got), sorted(got - own)
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: keys do not match the module (missing {len(missing)}: {missing[:6]}, "
            f"unexpected {len(unexpected)}: {unexpected[:6]})"
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shape mismatch: wrong config for this checkpoint
        raise CheckpointError(f"{source}: {exc}") from exc
