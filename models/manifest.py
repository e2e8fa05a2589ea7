"""``manifest.json`` of a model package: writing, SHA-256 of every file, verification.

The format is docs/MODEL_PACKAGE.md (version 1); the engine (numpy + onnxruntime) parses it, so
nothing here depends on torch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from copgen_plugin.engine.package import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    OFFICIAL_SOLVER,
    SolverSettings,
)
from copgen_plugin.engine.schedule import ScheduleSettings
from copgen_plugin.engine.verify import FileEntry, sha256_of, verify_files
from copgen_plugin.errors import PackageError
from models.configs import FOOTPRINT_M, ModalityConfig, network_order

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "PackageError", "sha256_of"]

EXPORTER_VERSION = "0.1.0"
DENOISER_FILE = "denoiser.onnx"
#: the GPU variant's denoiser (fp16, dynamo exporter, ONNX Attention); the tokenizers of a
#: variant that does not list them are the default ones
GPU_VARIANT_NAME = "fp16"
GPU_DENOISER_FILE = "denoiser_fp16.onnx"

#: what the exporter writes: the engine's defaults, so the two cannot drift apart
SCHEDULE = asdict(ScheduleSettings())
_SOLVER_DEFAULTS = SolverSettings()
SOLVER = {**OFFICIAL_SOLVER, "t_start": _SOLVER_DEFAULTS.t_start,
          "t_end": _SOLVER_DEFAULTS.t_end, "steps": _SOLVER_DEFAULTS.steps}


def encoder_file(key: str) -> str:
    return f"encoder_{key}.onnx"


def decoder_file(key: str) -> str:
    return f"decoder_{key}.onnx"


def modality_entry(spec: ModalityConfig, scale_factor: float | None = None) -> dict[str, Any]:
    """One entry of ``modalities``; ``scale_factor`` overrides the table (e.g. a demo model)."""
    entry: dict[str, Any] = {
        "kind": spec.kind,
        "family": spec.family,
        "bands": list(spec.bands),
        "image_shape": list(spec.image_shape),
    }
    if spec.is_image:
        entry["pixel_size_m"] = spec.pixel_size_m
    entry["latent_shape"] = list(spec.latent_shape)
    if spec.is_image:
        sf = spec.scale_factor if scale_factor is None else scale_factor
        entry["scale_factor"] = float(sf) if sf is not None else None
    entry["normalisation"] = json.loads(json.dumps(dict(spec.normalisation)))
    if spec.is_image:
        entry["encoder"] = encoder_file(spec.key)
        entry["decoder"] = decoder_file(spec.key)
    return entry


def variant_entry(precision: str, exporter: str, opset: int, devices: Iterable[str],
                  files: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One entry of ``variants``: how its graphs were made, the devices it is meant for, and
    the files it overrides by role (``denoiser``, ``encoder:<key>``, ``decoder:<key>``)."""
    return {"precision": precision, "exporter": exporter, "opset": int(opset),
            "devices": list(devices), "files": dict(files or {})}


@dataclass
class ManifestInfo:
    """The descriptive part of a manifest (who made the weights, under which licence)."""

    model_id: str
    model_version: str
    title: str
    licence: str
    source: str
    config: str
    architecture: Mapping[str, Any]
    demo: bool = False
    precision: str = "fp32"
    extra: dict[str, Any] = field(default_factory=dict)
    #: name -> :func:`variant_entry`; the default variant is named after ``precision``
    variants: dict[str, Any] = field(default_factory=dict)


def build_manifest(info: ManifestInfo, specs: Iterable[ModalityConfig], package_dir: Path,
                   scale_factors: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Assemble the manifest and hash every file of the package except ``manifest.json``."""
    by_key = {s.key: s for s in specs}
    order = network_order(by_key)
    scale_factors = scale_factors or {}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_id": info.model_id,
        "model_version": info.model_version,
        "title": info.title,
        "demo": info.demo,
        "licence": info.licence,
        "source": info.source,
        "exported_by": f"copgen_plugin models.export {EXPORTER_VERSION}",
        "config": info.config,
        "architecture": dict(info.architecture),
        "precision": info.precision,
        "footprint_m": FOOTPRINT_M,
        "network_order": order,
        "modalities": {k: modality_entry(by_key[k], scale_factors.get(k)) for k in order},
        "schedule": dict(SCHEDULE),
        "solver": dict(SOLVER),
        "denoiser": DENOISER_FILE,
    }
    if info.variants:
        manifest["variants"] = dict(info.variants)
        manifest["default_variant"] = info.precision
    manifest.update(info.extra)
    manifest["files"] = hash_files(package_dir)
    return manifest


def hash_files(package_dir: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(package_dir).iterdir()):
        if path.name == MANIFEST or path.name.startswith(".") or not path.is_file():
            continue
        files[path.name] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    return files


def write_manifest(package_dir: Path, manifest: Mapping[str, Any]) -> Path:
    path = Path(package_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_manifest(package_dir: Path) -> dict[str, Any]:
    path = Path(package_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(f"{package_dir}: no {MANIFEST}") from None
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} manifest")
    return data


def required_files(manifest: Mapping[str, Any]) -> list[str]:
    names = [manifest["denoiser"]]
    for key in manifest["network_order"]:
        entry = manifest["modalities"][key]
        if entry["kind"] == "image":
            names += [entry["encoder"], entry["decoder"]]
    for variant in manifest.get("variants", {}).values():
        names += [n for n in variant.get("files", {}).values() if n not in names]
    return names


def verify_package(package_dir: Path, check_hashes: bool = True) -> dict[str, Any]:
    """Raise :class:`PackageError` naming every unlisted required, missing or changed file
    (each checked by the engine's verification, the one the plugin runs before loading)."""
    package_dir = Path(package_dir)
    manifest = read_manifest(package_dir)
    listed = manifest.get("files", {})
    problems = [f"{n}: required but not listed" for n in required_files(manifest)
                if n not in listed]
    for name, meta in listed.items():
        entry = FileEntry(name, str(meta["sha256"]), int(meta["bytes"]))
        try:
            verify_files(package_dir, [entry], mode="full" if check_hashes else "size")
        except PackageError as exc:
            problems.append(str(exc).removeprefix(f"model package {package_dir}: "))
    if problems:
        raise PackageError(f"{package_dir}: " + "; ".join(problems))
    return manifest
