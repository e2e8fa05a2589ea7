"""Write a complete model package from torch modules (in memory or loaded on demand).

Modules may be given as factories so that a big model (base: 1.15 GB backbone, 10 x 335 MB
VAEs) is built, exported and freed one at a time. The package is assembled in a hidden sibling
folder and moved into place at the end, so a crash never leaves a half-written package behind a
valid-looking name.
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from models.autoencoder import AutoencoderKL
from models.configs import MODALITIES, ModalityConfig
from models.denoiser import CopgenUViT, count_parameters
from models.manifest import (
    DENOISER_FILE,
    GPU_DENOISER_FILE,
    GPU_VARIANT_NAME,
    MANIFEST,
    ManifestInfo,
    build_manifest,
    decoder_file,
    encoder_file,
    variant_entry,
    write_manifest,
)
from models.onnx_export import (
    GPU_VARIANT,
    ExportOptions,
    check_gpu_graph,
    export_decoder,
    export_denoiser,
    export_encoder,
)

log = logging.getLogger(__name__)

DenoiserSource = CopgenUViT | Callable[[], CopgenUViT]
VAESource = AutoencoderKL | Callable[[], AutoencoderKL]


def architecture_of(model: CopgenUViT) -> dict[str, Any]:
    cfg = model.config
    return {
        "embed_dim": cfg.embed_dim, "depth": cfg.depth, "num_heads": cfg.num_heads,
        "mlp_ratio": cfg.mlp_ratio, "qkv_bias": cfg.qkv_bias,
        "parameters": count_parameters(model),
    }



def _resolve(source: Any) -> Any:
    """A module is used as is; anything else is a factory called now (load on demand)."""
    return source if isinstance(source, nn.Module) else source()


def _check_target(out_dir: Path) -> None:
    """Only an empty folder or an older package may be replaced (checked before any work)."""
    if out_dir.exists() and (not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file())):
        raise FileExistsError(f"{out_dir} exists, is not empty and is not a model package")


def _replace_dir(staging: Path, out_dir: Path) -> None:
    if out_dir.exists():
        _check_target(out_dir)
        shutil.rmtree(out_dir)
    staging.chmod(0o755)  # mkdtemp makes it private
    staging.rename(out_dir)


def export_package(
    out_dir: Path,
    denoiser: DenoiserSource,
    vaes: Mapping[str, VAESource],
    info: ManifestInfo,
    options: ExportOptions | None = None,
    specs: Mapping[str, ModalityConfig] | None = None,
    *,
    gpu_variant: bool = False,
) -> Path:
    """Export denoiser + one encoder/decoder per image modality, then write ``manifest.json``.

    ``specs`` defaults to the COP-GEN table; a trainer with its own modalities passes its own.
    The manifest records each VAE's ``scale_factor`` as set on the module. ``gpu_variant`` adds
    the CUDA variant's denoiser (:func:`export_gpu_denoiser`) beside the default graphs.
    """
    options = options or ExportOptions()
    if gpu_variant and options.fp16:
        raise ValueError("the GPU variant is added to an fp32 package (the default graphs are "
                         "the CPU's)")
    specs = dict(specs or MODALITIES)
    out_dir = Path(out_dir).resolve()
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    try:
        t0 = time.perf_counter()
        model = _resolve(denoiser)
        keys = model.config.keys
        missing = [k for k in keys if k not in specs]
        if missing:
            raise ValueError(f"no modality spec for {missing}")
        image_keys = [k for k in keys if specs[k].is_image]
        absent = [k for k in image_keys if k not in vaes]
        if absent:
            raise ValueError(f"no autoencoder for image modalities {absent}")
        arch = architecture_of(model)
        export_denoiser(model, staging / DENOISER_FILE, options)
        variants = {options.precision: variant_entry(
            options.precision, options.exporter, options.effective_opset, ["cpu"])}
        if gpu_variant:
            variants[GPU_VARIANT_NAME] = export_gpu_denoiser(model, staging)
        del model, denoiser
        gc.collect()
        log.info("denoiser exported in %.1f s", time.perf_counter() - t0)

        scale_factors: dict[str, float] = {}
        for key in image_keys:
            t1 = time.perf_counter()
            vae = _resolve(vaes[key])
            spec = specs[key]
            if (vae.config.in_channels, vae.config.resolution) != spec.image_shape[:2]:
                raise ValueError(f"{key}: VAE built for {vae.config.in_channels} channels at "
                                 f"{vae.config.resolution} px, the table says {spec.image_shape}")
            scale_factors[key] = vae.scale_factor
            if "vae" not in arch:
                arch["vae"] = architecture_of_vae(vae)
            export_encoder(vae, staging / encoder_file(key), options)
            export_decoder(vae, staging / decoder_file(key), options)
            del vae
            gc.collect()
            log.info("%s tokenizer exported in %.1f s", key, time.perf_counter() - t1)

        info.architecture = {**arch, **dict(info.architecture)}
        info.precision = options.precision
        info.variants = variants
        manifest = build_manifest(info, [specs[k] for k in keys], staging, scale_factors)
        write_manifest(staging, manifest)
        _replace_dir(staging, out_dir)
        log.info("package %s written in %.1f s", out_dir, time.perf_counter() - t0)
        return out_dir
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def architecture_of_vae(vae: AutoencoderKL) -> dict[str, Any]:
    v = vae.config
    return {"ch": v.ch, "ch_mult": list(v.ch_mult), "num_res_blocks": v.num_res_blocks,
            "z_channels": v.z_channels}


def export_gpu_denoiser(model: CopgenUViT, package_dir: Path) -> dict[str, Any]:
    """Write ``denoiser_fp16.onnx`` (:data:`GPU_VARIANT`) into ``package_dir``, check it is a
    CUDA graph (:func:`check_gpu_graph`) and return its ``variants`` entry."""
    t0 = time.perf_counter()
    files = export_denoiser(model, Path(package_dir) / GPU_DENOISER_FILE, GPU_VARIANT, batch=2)
    ops = check_gpu_graph(files[0])
    log.info("GPU variant %s exported in %.1f s (%d Attention nodes)", GPU_DENOISER_FILE,
             time.perf_counter() - t0, ops["Attention"])
    return variant_entry(GPU_VARIANT.precision, GPU_VARIANT.exporter,
                         GPU_VARIANT.effective_opset, ["cuda"], {"denoiser": GPU_DENOISER_FILE})
