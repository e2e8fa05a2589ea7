"""Tiny random-weight model packages: the real interface and shapes, built in seconds.

The engine and QGIS tests run real ONNX graphs through these: same manifest, same input and
output names, the real native image sizes (192/96/32/64 px) and latent shapes, but a
64-wide, depth-4 backbone and ch-32 VAEs (the parity kit's tiny tree). Weights are drawn from a
seeded generator and scaled so every output is finite and of moderate size.

CLI: ``python -m models.tiny --out DIR [--modalities KEY ...] [--seed N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from models.autoencoder import AutoencoderKL
from models.configs import get_size, select_modalities
from models.denoiser import CopgenUViT
from models.manifest import ManifestInfo
from models.onnx_export import ExportOptions
from models.package import export_package

log = logging.getLogger(__name__)

TINY_MODEL_ID = "copgen-tiny-random"
_OUTPUT_LAYERS = ("decoder.conv_out", "encoder.conv_out")


@torch.no_grad()
def init_tame(module: nn.Module, generator: torch.Generator, out_gain: float = 1.0) -> None:
    """Deterministic init independent of torch's default initialisers.

    Weights ~ N(0, 1/fan_in) keep activations O(1); norms start at (1, 0), biases at 0, the
    positional table at 0.02 N(0,1). Parameters named in ``_OUTPUT_LAYERS`` get ``out_gain``.
    """
    for name, param in module.named_parameters():
        if name == "pos_embed":
            param.copy_(0.02 * torch.randn(param.shape, generator=generator))
        elif param.dim() >= 2:
            fan_in = param[0].numel()
            gain = out_gain if name.startswith(_OUTPUT_LAYERS) else 1.0
            param.copy_(torch.randn(param.shape, generator=generator) * gain / math.sqrt(fan_in))
        elif name.endswith("weight"):
            param.fill_(1.0)
        else:
            param.zero_()


def tiny_denoiser(keys: Iterable[str] | None = None, seed: int = 0) -> CopgenUViT:
    specs = select_modalities(keys)
    model = CopgenUViT(get_size("tiny").backbone(specs))
    init_tame(model, torch.Generator().manual_seed(seed))
    return model.eval()


def tiny_vae(key: str, seed: int = 0) -> AutoencoderKL:
    (spec,) = select_modalities([key])
    if not spec.is_image:
        raise ValueError(f"{key} is a scalar modality: it has no autoencoder")
    vae = AutoencoderKL(get_size("tiny").vae(spec), scale_factor=spec.scale_factor or 1.0)
    # per-modality stream so a subset package has the same VAE weights as the full one
    stream = seed * 1_000_003 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    init_tame(vae, torch.Generator().manual_seed(stream), out_gain=0.5)
    return vae.eval()


def build_tiny_package(out_dir: Path | str, modalities: Sequence[str] | None = None,
                       seed: int = 0, fp16: bool = False, opset: int = 17, *,
                       gpu_variant: bool = False) -> Path:
    """Build a tiny package (all 12 modalities by default) and return its folder.

    ``gpu_variant`` adds the fp16 CUDA denoiser (dynamo exporter, ~10 s more on 2 cores)."""
    specs = select_modalities(modalities)
    keys = [s.key for s in specs]
    denoiser = tiny_denoiser(keys, seed)
    vaes = {s.key: (lambda k=s.key: tiny_vae(k, seed)) for s in specs if s.is_image}
    info = ManifestInfo(
        model_id=TINY_MODEL_ID,
        model_version=f"seed-{seed}",
        title="COP-GEN tiny, random weights (tests only, outputs are meaningless)",
        licence="CC0-1.0",
        source=f"random weights from copgen_plugin models.tiny (seed {seed})",
        config="tiny",
        architecture={},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return export_package(Path(out_dir), denoiser, vaes, info,
                              ExportOptions(opset=opset, fp16=fp16), gpu_variant=gpu_variant)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.tiny",
                                     description="Build a tiny random-weight model package.")
    parser.add_argument("--out", required=True, type=Path, help="package folder to (re)write")
    parser.add_argument("--modalities", nargs="+", default=None, metavar="KEY",
                        help="subset of modality keys (default: all 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fp16", action="store_true", help="fp16 weights (GPU use)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--gpu-variant", action="store_true",
                        help="add the fp16 CUDA variant of the denoiser (dynamo, opset 23)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    keys = None
    if args.modalities:
        keys = [k for item in args.modalities for k in item.split(",") if k]
    out = build_tiny_package(args.out, keys, args.seed, args.fp16, args.opset,
                             gpu_variant=args.gpu_variant)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
