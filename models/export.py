"""Official checkpoints -> model package.

CLI: ``python -m models.export --checkpoint-dir DIR --config base|large|huge|tiny --out PKG``.
``DIR`` is laid out as the official README clones it (``500000_nnet_ema.pth`` and
``vae/<VAE folder>/model-50-ema.pth``); the other plausible layouts of :mod:`models.locate` work
too. Modules are loaded, exported and freed one at a time to bound memory (base: ~1.2 GB of
weights per step instead of 4.5 GB).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.autoencoder import AutoencoderKL
from models.checkpoints import load_state_dict_file, load_strict, load_vae_weights
from models.configs import ModalityConfig, get_size, select_modalities
from models.denoiser import CopgenUViT
from models.locate import choose_files, list_tree
from models.manifest import ManifestInfo, sha256_of
from models.onnx_export import ExportOptions
from models.package import export_package

log = logging.getLogger(__name__)

HUB_SOURCE = "https://huggingface.co/mespinosami/copgen-base + mespinosami/copgen-vaes"


@dataclass
class Provenance:
    """Descriptive manifest fields; defaults per config, overridable from the CLI."""

    model_id: str
    model_version: str
    title: str
    licence: str
    source: str
    extra: dict[str, Any] = field(default_factory=dict)


DEFAULT_PROVENANCE: dict[str, Provenance] = {
    "base": Provenance("copgen-base", "500000-ema", "COP-GEN base (500k steps, EMA)",
                       "CC-BY-4.0", HUB_SOURCE),
    "large": Provenance("copgen-large", "unknown", "COP-GEN large", "unknown",
                        "local checkpoint (not published)"),
    "huge": Provenance("copgen-huge", "unknown", "COP-GEN huge", "unknown",
                       "local checkpoint (not published)"),
    "tiny": Provenance("copgen-tiny", "unknown", "COP-GEN tiny (test weights)", "unknown",
                       "local checkpoint"),
}


@dataclass(frozen=True)
class SourceFile:
    """One checkpoint to export: where it is now and how to cite it in the manifest."""

    path: Path
    name: str  # path in the source layout (folder or repository), recorded in the manifest
    training: bool = False  # a VAE training file that needs EMA extraction
    origin: dict[str, Any] = field(default_factory=dict)  # e.g. repository and commit


def export_from_files(denoiser: SourceFile, vaes: dict[str, SourceFile], config: str,
                      out_dir: Path, provenance: Provenance,
                      options: ExportOptions | None = None,
                      specs: Sequence[ModalityConfig] | None = None,
                      record_hashes: bool = True, *, gpu_variant: bool = False) -> Path:
    """Export one backbone file and one VAE file per image modality as a package."""
    size = get_size(config)
    specs = list(specs or select_modalities(None))
    by_key = {s.key: s for s in specs}

    def load_denoiser() -> CopgenUViT:
        model = CopgenUViT(size.backbone(specs))
        log.info("loading %s", denoiser.path)
        load_strict(model, load_state_dict_file(denoiser.path), denoiser.name)
        return model.eval()

    def vae_loader(key: str) -> Any:
        src = vaes[key]

        def load() -> AutoencoderKL:
            vae = AutoencoderKL(size.vae(by_key[key]), by_key[key].scale_factor or 1.0)
            log.info("loading %s%s", src.path, " (EMA extraction)" if src.training else "")
            load_strict(vae, load_vae_weights(src.path), src.name)
            return vae.eval()
        return load

    extra = dict(provenance.extra)
    if record_hashes:
        extra["weights"] = {"denoiser": _file_record(denoiser)}
        extra["weights"] |= {k: _file_record(src) for k, src in sorted(vaes.items())}
    info = ManifestInfo(
        model_id=provenance.model_id, model_version=provenance.model_version,
        title=provenance.title, licence=provenance.licence, source=provenance.source,
        config=config, architecture={}, extra=extra,
    )
    loaders = {k: vae_loader(k) for k in vaes if k in by_key}
    return export_package(out_dir, load_denoiser, loaders, info, options,
                          specs={s.key: s for s in specs}, gpu_variant=gpu_variant)


def _file_record(src: SourceFile) -> dict[str, Any]:
    """Provenance of one source checkpoint: its name in the source layout and SHA-256."""
    return {**src.origin, "file": src.name, "sha256": sha256_of(src.path),
            "bytes": src.path.stat().st_size}


def export_checkpoint_dir(checkpoint_dir: Path, config: str, out_dir: Path,
                          options: ExportOptions | None = None,
                          modalities: Sequence[str] | None = None,
                          provenance: Provenance | None = None, *,
                          gpu_variant: bool = False) -> Path:
    root = Path(checkpoint_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"checkpoint folder {root} does not exist")
    specs = select_modalities(modalities)
    sel = choose_files(list_tree(root), specs, where=str(root))
    log.info("backbone %s; VAEs %s", sel.denoiser, sel.vaes)
    nnet = SourceFile(root / str(sel.denoiser), str(sel.denoiser))
    vaes = {k: SourceFile(root / p, p, k in sel.training) for k, p in sel.vaes.items()}
    return export_from_files(nnet, vaes, config, out_dir,
                             provenance or DEFAULT_PROVENANCE[config], options, specs,
                             gpu_variant=gpu_variant)


def add_export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--fp16", action="store_true",
                        help="fp16 weights (GPU use); inputs and outputs stay float32")
    parser.add_argument("--external-data", choices=["auto", "always", "never"], default="auto",
                        help="ONNX external data files (auto: only for graphs over ~1.8 GB)")
    parser.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    parser.add_argument("--gpu-variant", action="store_true",
                        help="also export the fp16 CUDA variant of the denoiser (dynamo exporter, "
                             "opset 23, ONNX Attention) beside the fp32 graphs")


def options_from_args(args: argparse.Namespace) -> ExportOptions:
    external = {"auto": None, "always": True, "never": False}[args.external_data]
    return ExportOptions(opset=args.opset, fp16=args.fp16, external_data=external,
                         exporter=args.exporter)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.export",
                                     description="Export COP-GEN checkpoints to a model package.")
    parser.add_argument("--checkpoint-dir", required=True, type=Path)
    parser.add_argument("--config", required=True, choices=["base", "large", "huge", "tiny"])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--modalities", nargs="+", default=None, metavar="KEY",
                        help="modality keys the backbone was trained with (default: all 12)")
    for name in ("model-id", "model-version", "title", "licence", "source"):
        parser.add_argument(f"--{name}", default=None, help="manifest field override")
    add_export_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    prov = DEFAULT_PROVENANCE[args.config]
    prov = Provenance(
        args.model_id or prov.model_id, args.model_version or prov.model_version,
        args.title or prov.title, args.licence or prov.licence, args.source or prov.source,
    )
    try:
        out = export_checkpoint_dir(args.checkpoint_dir, args.config, args.out,
                                    options_from_args(args), args.modalities, prov,
                                    gpu_variant=args.gpu_variant)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
