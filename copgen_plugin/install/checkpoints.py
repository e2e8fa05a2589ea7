"""Open an official weight file as a state dict of lazy tensors (no torch, no pickle code).

Mirrors ``models/checkpoints.py`` (the torch side): the backbone ``*nnet_ema.pth`` and VAE
``model-50-ema.pth`` are plain state dicts; a VAE training file (``model-50.pt``) holds an
``ema`` entry whose ``ema_model.*`` tensors are the inference weights (``loss.*`` dropped); a
``state_dict`` entry holding the tensors is accepted too. A git-LFS pointer saved in place of the
weights, and truncated or corrupt files, get their own messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from .pth_reader import PthFile
from .safetensors_reader import read_safetensors
from .tensors import TensorRef

EMA_PREFIX = "ema_model."
DROPPED_PREFIXES = ("loss.",)  # LPIPS / discriminator weights of the training wrapper
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class StateDict:
    """``tensors`` by key, readable until :meth:`close`."""

    path: Path
    tensors: OrderedDict[str, TensorRef]
    _handle: Any = field(default=None, repr=False)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> StateDict:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_state_dict(path: Path) -> StateDict:
    """The inference state dict held by ``path`` (``.pth``/``.pt`` zip or ``.safetensors``)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the weight file ({exc})") from exc
    if head.startswith(LFS_MAGIC):
        raise CheckpointError(
            f"{path} is a git-LFS pointer, not the weights: the repository was cloned without "
            "git-lfs. Run `git lfs pull` in it, or download the file itself (the hub's "
            "'resolve' URL or copgen:download_model)")
    if head.startswith(ZIP_MAGIC) or path.suffix in (".pth", ".pt", ".ckpt", ".bin"):
        if not head.startswith(ZIP_MAGIC):
            raise CheckpointError(
                f"{path}: not a PyTorch zip checkpoint (torch.save >= 1.6); an older or another "
                "format, or a corrupt/truncated download")
        pth = PthFile(path)
        try:
            return StateDict(path, inference_state(pth.load(), path), pth)
        except BaseException:
            pth.close()
            raise
    if path.suffix == ".safetensors":
        return StateDict(path, read_safetensors(path))
    raise CheckpointError(f"{path}: unknown weight file type (expected .pth or .safetensors)")


def inference_state(tree: Any, path: Path) -> OrderedDict[str, TensorRef]:
    """Pick the inference tensors out of a loaded tree (plain, ``ema`` or ``state_dict``)."""
    if isinstance(tree, Mapping):
        ema = tree.get("ema")
        if isinstance(ema, Mapping):
            return _extract_ema(ema, path)
        inner = tree.get("state_dict")
        if isinstance(inner, Mapping):
            tree = inner
    if not isinstance(tree, Mapping):
        raise CheckpointError(f"{path}: expected a state dict, got {type(tree).__name__}")
    bad = [k for k, v in tree.items() if not isinstance(k, str) or not isinstance(v, TensorRef)]
    if bad:
        raise CheckpointError(f"{path}: not a plain state dict (non-tensor entries such as "
                              f"{bad[:5]})")
    return OrderedDict(tree)


def _extract_ema(ema: Mapping[str, Any], path: Path) -> OrderedDict[str, TensorRef]:
    return extract_ema(ema, str(path), lambda value: isinstance(value, TensorRef))


def extract_ema(ema: Mapping[str, Any], source: str, is_tensor: Callable[[Any], bool]
                ) -> OrderedDict[str, Any]:
    """A training file's ``ema`` state -> the inference weights: ``ema_model.*`` with the
    prefix stripped, ``loss.*`` (LPIPS, discriminator) dropped. The one rule for the torch-free
    converter and the torch tools in ``models/`` (``is_tensor`` says what a tensor is there)."""
    out: OrderedDict[str, Any] = OrderedDict()
    for key, value in ema.items():
        if not isinstance(key, str) or not key.startswith(EMA_PREFIX):
            continue
        name = key[len(EMA_PREFIX):]
        if name.startswith(DROPPED_PREFIXES):
            continue
        if not is_tensor(value):
            raise CheckpointError(f"{source}: EMA entry {key} is not a tensor")
        out[name] = value
    if not out:
        raise CheckpointError(f"{source}: the 'ema' state holds no '{EMA_PREFIX}*' tensors")
    return out
