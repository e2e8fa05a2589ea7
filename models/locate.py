"""Find the backbone and VAE checkpoints in a file listing (local folder or hub repository).

The published layouts could not be inspected (COPGEN_REFERENCE.md section 9.1), so this accepts
the plausible ones: ``500000_nnet_ema.pth`` (or another ``*nnet_ema.pth``) at any depth, and per
VAE a folder named like the config's ``autoencoder_path`` folder (or the model-card name, or the
modality key) holding ``model-50-ema.pth`` or only the training file ``model-50.pt``. The same
rules run on a remote listing and on a local tree, and a failure names what was found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from models.configs import ModalityConfig

NNET_FILE = "500000_nnet_ema.pth"
EMA_FILE = "model-50-ema.pth"
TRAINING_FILE = "model-50.pt"
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")


class LayoutError(FileNotFoundError):
    """The expected checkpoint files are not in the listing."""


@dataclass(frozen=True)
class Selection:
    """Relative POSIX paths of the chosen files; ``training`` marks VAEs needing EMA extraction."""

    denoiser: str | None
    vaes: dict[str, str]
    training: frozenset[str]

    @property
    def files(self) -> list[str]:
        return ([self.denoiser] if self.denoiser else []) + list(self.vaes.values())


def _step(name: str) -> int:
    m = re.match(r"(\d+)", name)
    return int(m.group(1)) if m else -1


def vae_aliases(spec: ModalityConfig) -> set[str]:
    """Folder / file-stem names a VAE may live under, lower-case."""
    names = {spec.key}
    if spec.vae_folder:
        names.add(spec.vae_folder)
        short = re.sub(r"_\d+x\d+", "", spec.vae_folder)  # DEM_64x64_DEM_latent_8 -> DEM_DEM..
        short = re.sub(r"_latent_\d+$", "", short)
        names.add(short)
        parts = short.split("_", 1)
        if len(parts) == 2 and parts[0] == parts[1]:  # DEM_DEM -> DEM, LULC_LULC -> LULC
            names.add(parts[0])
    return {n.lower() for n in names}


def _is_weight(path: PurePosixPath) -> bool:
    return path.suffix in WEIGHT_SUFFIXES and not path.name.startswith(".")


def choose_denoiser(paths: Sequence[str]) -> str | None:
    cands = [PurePosixPath(p) for p in paths]
    exact = sorted((p for p in cands if p.name == NNET_FILE), key=lambda p: len(p.parts))
    if exact:
        return str(exact[0])
    ema = [p for p in cands if p.name.endswith("nnet_ema.pth")]
    if ema:  # e.g. 300000.ckpt/nnet_ema.pth or 273000_nnet_ema.pth: take the latest step
        return str(max(ema, key=lambda p: (_step(p.name) if _step(p.name) >= 0
                                           else _step(p.parent.name), -len(p.parts))))
    return None


def _vae_rank(path: PurePosixPath) -> tuple[int, int] | None:
    """Lower is better; None when the file is not a VAE checkpoint candidate."""
    name = path.name
    if name == EMA_FILE:
        return (0, 0)
    if name.endswith(".pth") and "ema" in name:
        return (1, -_step(name.removeprefix("model-")))
    if name == TRAINING_FILE:
        return (2, 0)
    if re.fullmatch(r"model-\d+\.pt", name):
        return (3, -_step(name.removeprefix("model-")))
    return None


def choose_vae(paths: Sequence[str], spec: ModalityConfig) -> str | None:
    aliases = vae_aliases(spec)
    ranked: list[tuple[tuple[int, int], int, str]] = []
    for raw in paths:
        p = PurePosixPath(raw)
        if not _is_weight(p):
            continue
        if p.parent.name.lower() in aliases:
            rank = _vae_rank(p)
            if rank is not None:
                ranked.append((rank, len(p.parts), raw))
        elif p.stem.lower() in aliases and p.suffix == ".pth":  # flat: vae/<name>.pth
            ranked.append(((4, 0), len(p.parts), raw))
    return min(ranked)[2] if ranked else None


def choose_files(paths: Iterable[str], specs: Iterable[ModalityConfig], *, denoiser: bool = True,
                 where: str = "the checkpoint folder") -> Selection:
    """Pick one file per role, or raise :class:`LayoutError` listing what was there."""
    listing = sorted(str(p) for p in paths)
    nnet = choose_denoiser(listing) if denoiser else None
    vaes: dict[str, str] = {}
    missing: list[str] = []
    if denoiser and nnet is None:
        missing.append(f"the backbone ({NNET_FILE} or *nnet_ema.pth)")
    for spec in specs:
        if not spec.is_image:
            continue
        found = choose_vae(listing, spec)
        if found is None:
            missing.append(f"{spec.key} VAE (<{spec.vae_folder}>/{EMA_FILE} or {TRAINING_FILE})")
        else:
            vaes[spec.key] = found
    if missing:
        shown = ", ".join(listing[:40]) + (f", ... ({len(listing)} files)"
                                           if len(listing) > 40 else "")
        raise LayoutError(f"{where}: cannot find {'; '.join(missing)}. "
                          f"Found: {shown or 'no files'}")
    training = frozenset(k for k, p in vaes.items() if p.endswith(".pt"))
    return Selection(nnet, vaes, training)


def list_tree(root: Path) -> list[str]:
    """Relative POSIX paths of the files under ``root`` (hidden entries skipped)."""
    root = Path(root)
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        out.append(rel.as_posix())
    return sorted(out)
