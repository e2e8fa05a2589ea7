"""The one parser of a model package (``manifest.json`` + ONNX files; docs/MODEL_PACKAGE.md).

Every other module asks the parsed :class:`ModelPackage`; nothing else reads the manifest.
Errors name the problem: a missing file, a changed file (size or SHA-256), an unknown modality,
an inconsistent shape. A package is untrusted input (downloaded from whoever owns a repository
id), so every size it declares is bounded here, before anything is allocated from it
(``LIMITS``: image and latent sizes, footprint pixels, file counts and sizes, string lengths,
number of modalities, schedule length). Hashing multi-GB graphs is slow, so a verified file
is remembered by (path, size, mtime, expected hash) in a small JSON cache (``verify``); a file
whose size or mtime changed is hashed again, the size is checked on every load, and a full
re-hash runs once a day per file (``verify.REVERIFY_AFTER_S``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ManifestError, ModalityError
from .modalities import (
    FAMILIES,
    NORMALISATION_FAMILIES,
    REQUIRED_CONSTANTS,
    ModalitySpec,
    Normalisation,
)
from .schedule import ScheduleSettings, parse_schedule
from .variants import GraphVariant, parse_variants, variant_roles
from .verify import VERIFY_MODES, FileEntry, verify_files

logger = logging.getLogger(__name__)

FORMAT = "copgen-model-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

#: bounds on what a manifest may declare (far above COP-GEN's own: 192 px images, 24 px
#: latents, 12 modalities, 25 files, 1000 schedule steps); checked before any allocation
LIMITS: Mapping[str, int] = {
    "manifest_bytes": 4 * 2**20,
    "files": 256,
    "file_bytes": 64 * 2**30,
    "name_chars": 255,
    "text_chars": 4096,
    "modalities": 32,
    "bands": 64,
    "classes": 256,
    "image_side_px": 1024,
    "latent_side_px": 256,
    "latent_channels": 64,
    "steps": 1000,
    "schedule_length": 10_000,
    "variants": 16,
}

#: solver settings the engine implements (the official sampler call)
OFFICIAL_SOLVER = {"name": "dpm_solver", "predict_x0": True, "order": 3, "method": "fast",
                   "skip_type": "time_uniform"}


@dataclass(frozen=True)
class SolverSettings:
    """Solver defaults of the package (only steps may be changed per request)."""

    steps: int = 50
    t_start: float = 1.0
    t_end: float = 1e-3


@dataclass(frozen=True)
class ModelPackage:
    """A parsed, validated model package."""

    root: Path
    manifest: Mapping[str, Any]
    model_id: str
    model_version: str
    title: str
    demo: bool
    licence: str
    precision: str
    footprint_m: float
    network_order: tuple[str, ...]
    modalities: Mapping[str, ModalitySpec]
    schedule: ScheduleSettings
    solver: SolverSettings
    denoiser: str
    files: Mapping[str, FileEntry]
    variants: Mapping[str, GraphVariant]
    default_variant: str

    def path(self, name: str) -> Path:
        return self.root / name

    def variant_file(self, variant: str, role: str) -> str:
        """The file of ``role`` (``denoiser``, ``encoder:<key>``, ``decoder:<key>``) in
        ``variant``: its own when it lists one, else the default file."""
        own = self.variants[variant].files.get(role)
        if own is not None:
            return own
        if role == "denoiser":
            return self.denoiser
        kind, _, key = role.partition(":")
        name = getattr(self.spec(key), kind, None) if kind in ("encoder", "decoder") else None
        if not isinstance(name, str):
            raise ModalityError(f"no {role!r} graph in this package ({self.model_id})")
        return name

    def spec(self, key: str) -> ModalitySpec:
        """The modality of that key, or a :class:`ModalityError` listing the known ones."""
        try:
            return self.modalities[key]
        except KeyError:
            raise ModalityError(
                f"unknown modality {key!r}; this package ({self.model_id}) has "
                f"{', '.join(self.network_order)}"
            ) from None

    @property
    def specs(self) -> list[ModalitySpec]:
        """All modalities in network order."""
        return [self.modalities[k] for k in self.network_order]

    def keys_of_family(self, family: str) -> list[str]:
        """Keys of one family (e.g. the three S2L2A band groups), network order."""
        return [k for k in self.network_order if self.modalities[k].family == family]

    @property
    def architecture(self) -> Mapping[str, Any]:
        """The backbone's sizes as exported (``embed_dim``, ``num_heads``, ...; may be empty),
        for memory estimates only (``batches.row_bytes``)."""
        arch = self.manifest.get("architecture")
        return arch if isinstance(arch, Mapping) else {}


# --------------------------------------------------------------------------------------------
# field readers that name what is wrong


def _get(obj: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or name not in obj:
        raise ManifestError(f"manifest: {where} has no field {name!r}")
    return obj[name]


def _limit(value: float, limit: str, what: str) -> None:
    """A declared size above ``LIMITS[limit]`` -> an error that says both numbers."""
    if value > LIMITS[limit]:
        raise ManifestError(f"manifest declares {what}; the limit is {LIMITS[limit]:,}: "
                            "not a COP-GEN package (or a hostile one), nothing was allocated")


def _text(value: Any, where: str, limit: str = "name_chars") -> str:
    if not isinstance(value, str):
        raise ManifestError(f"manifest: {where} must be a string, got {type(value).__name__}")
    _limit(len(value), limit, f"a {len(value):,}-character {where}")
    return value


def _shape(value: Any, where: str) -> tuple[int, int, int]:
    if (not isinstance(value, list | tuple) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                       for v in value)):
        raise ManifestError(f"manifest: {where} must be three positive integers, got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


def _check_shape_limits(key: str, m: Mapping[str, Any], image: tuple[int, int, int],
                        latent: tuple[int, int, int], footprint_m: float) -> None:
    """Image and latent sizes, and the footprint in pixels, within ``LIMITS``."""
    where = f"modality {key!r}"
    _limit(max(image[1:]), "image_side_px",
           f"a {max(image[1:]):,}-pixel image side for {where} (image_shape {list(image)})")
    _limit(image[0], "classes", f"{image[0]:,} image channels for {where}")
    _limit(max(latent[1:]), "latent_side_px",
           f"a {max(latent[1:]):,}-pixel latent side for {where} (latent_shape {list(latent)})")
    _limit(latent[0], "latent_channels", f"{latent[0]:,} latent channels for {where}")
    px = m.get("pixel_size_m")
    if m.get("kind") == "image":
        if (not isinstance(px, int | float) or isinstance(px, bool) or not math.isfinite(px)
                or px <= 0):
            raise ManifestError(f"manifest: {where} needs a positive pixel_size_m, got {px!r}")
        side = footprint_m / px
        _limit(side, "image_side_px", f"a {side:,.0f}-pixel footprint for {where} "
                                      f"({footprint_m:g} m at {px:g} m)")


def _parse_modality(key: str, m: Mapping[str, Any], files: Mapping[str, FileEntry],
                    footprint_m: float) -> ModalitySpec:
    where = f"modality {key!r}"
    if not isinstance(m, Mapping):
        raise ManifestError(f"manifest: {where} must be an object")
    kind = _get(m, "kind", where)
    family = _get(m, "family", where)
    if kind not in ("image", "scalar"):
        raise ManifestError(f"manifest: {where} has kind {kind!r}; expected image or scalar")
    if family not in FAMILIES:
        raise ManifestError(f"manifest: {where} has unknown family {family!r} ({FAMILIES})")
    bands = _get(m, "bands", where)
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
        raise ManifestError(f"manifest: {where} bands must be a non-empty list of names")
    _limit(len(bands), "bands", f"{len(bands):,} bands for {where}")
    for band in bands:
        _text(band, f"band name of {where}")
    image_shape = _shape(_get(m, "image_shape", where), f"{where} image_shape")
    latent_shape = _shape(_get(m, "latent_shape", where), f"{where} latent_shape")
    _check_shape_limits(key, m, image_shape, latent_shape, footprint_m)
    norm_obj = _get(m, "normalisation", where)
    norm_kind = _get(norm_obj, "kind", f"{where} normalisation")
    if family not in NORMALISATION_FAMILIES.get(norm_kind, ()):
        raise ManifestError(
            f"manifest: {where}: normalisation {norm_kind!r} does not apply to family {family!r}"
        )
    for const in REQUIRED_CONSTANTS[norm_kind]:
        _get(norm_obj, const, f"{where} normalisation")
    norm = Normalisation(norm_kind, {k: v for k, v in norm_obj.items() if k != "kind"})
    spec = ModalitySpec(
        key=key, kind=kind, family=family, bands=tuple(bands), image_shape=image_shape,
        latent_shape=latent_shape, normalisation=norm,
        scale_factor=m.get("scale_factor"), pixel_size_m=m.get("pixel_size_m"),
        encoder=m.get("encoder"), decoder=m.get("decoder"),
    )
    _check_modality(spec, files)
    return spec


def _check_modality(spec: ModalitySpec, files: Mapping[str, FileEntry]) -> None:
    where = f"manifest: modality {spec.key!r}"
    c_img, h_img, w_img = spec.image_shape
    _, h_lat, w_lat = spec.latent_shape
    if spec.kind == "scalar":
        if spec.image_shape != (1, 1, 3) or spec.latent_shape != (1, 1, 3):
            raise ManifestError(f"{where}: a scalar must have image and latent shape [1, 1, 3]")
        return
    if spec.is_categorical:
        codes = spec.normalisation.const("codes")
        if len(codes) != c_img or len(spec.bands) != 1:
            raise ManifestError(
                f"{where}: one-hot needs one band and image_shape[0] == len(codes) "
                f"({len(codes)}), got {c_img} channels and bands {list(spec.bands)}"
            )
    elif len(spec.bands) != c_img:
        raise ManifestError(
            f"{where}: {len(spec.bands)} bands {list(spec.bands)} but image_shape has {c_img} "
            "channels"
        )
    if h_img % h_lat or w_img % w_lat or h_img // h_lat != w_img // w_lat:
        raise ManifestError(
            f"{where}: image {spec.image_shape} is not an integer multiple of latent "
            f"{spec.latent_shape}"
        )
    if not isinstance(spec.scale_factor, int | float) or spec.scale_factor <= 0:
        raise ManifestError(f"{where}: an image modality needs a positive scale_factor")
    for role in ("encoder", "decoder"):
        name = getattr(spec, role)
        if not isinstance(name, str):
            raise ManifestError(f"{where}: an image modality needs an {role} file")
        if name not in files:
            raise ManifestError(f"{where}: {role} {name!r} is not listed in 'files'")


def check_relative_name(name: Any, where: str = "manifest") -> str:
    """A package file name that stays inside the package folder on every OS, or ManifestError.

    The one rule for names a package (local, or a remote manifest or listing) may use: relative
    POSIX paths of plain parts, so that ``root / name`` can never leave ``root``.
    """
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ManifestError(f"{where}: file name {name!r} must be a non-empty string "
                            "of at most 255 characters")
    parts = name.split("/")
    if (name.startswith("/") or "\\" in name or ":" in name
            or any(ord(c) < 32 for c in name)
            or any(part in ("", ".", "..") for part in parts)):
        raise ManifestError(f"{where}: file name {name!r} must be relative to the package "
                            "(plain parts separated by '/': no '..', '.', empty part, absolute "
                            "path, drive, backslash or control character)")
    return name


def _parse_files(value: Any) -> dict[str, FileEntry]:
    if not isinstance(value, Mapping) or not value:
        raise ManifestError("manifest: 'files' must map file names to {sha256, bytes}")
    _limit(len(value), "files", f"{len(value):,} files")
    files = {}
    for name, entry in value.items():
        check_relative_name(name)
        sha = _get(entry, "sha256", f"file {name!r}")
        size = _get(entry, "bytes", f"file {name!r}")
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef"
                                                                 for c in sha.lower())):
            raise ManifestError(f"manifest: file {name!r} has an invalid sha256 {sha!r}")
        if not isinstance(size, int) or size < 0:
            raise ManifestError(f"manifest: file {name!r} has an invalid byte size {size!r}")
        _limit(size, "file_bytes", f"a {size:,}-byte file {name!r}")
        files[name] = FileEntry(name, sha.lower(), size)
    return files


def _parse_solver(value: Any) -> SolverSettings:
    solver = value if isinstance(value, Mapping) else {}
    for name, official in OFFICIAL_SOLVER.items():
        if name in solver and solver[name] != official:
            raise ManifestError(
                f"manifest: solver {name}={solver[name]!r} is not supported (only {official!r})"
            )
    steps = solver.get("steps", 50)
    if not isinstance(steps, int) or steps < 1:
        raise ManifestError(f"manifest: solver steps must be a positive integer, got {steps!r}")
    _limit(steps, "steps", f"{steps:,} solver steps")
    return SolverSettings(steps, float(solver.get("t_start", 1.0)),
                          float(solver.get("t_end", 1e-3)))


def parse_manifest(root: Path, manifest: Mapping[str, Any]) -> ModelPackage:
    """Validate a manifest object (no file access) and build the package description."""
    if not isinstance(manifest, Mapping):
        raise ManifestError("manifest: the top level must be a JSON object")
    if manifest.get("format") != FORMAT:
        raise ManifestError(f"manifest: 'format' must be {FORMAT!r}, got "
                            f"{manifest.get('format')!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ManifestError(f"manifest: format_version {manifest.get('format_version')!r} is "
                            f"not supported (this engine reads {FORMAT_VERSION})")
    files = _parse_files(_get(manifest, "files", "the top level"))
    order = _get(manifest, "network_order", "the top level")
    if (not isinstance(order, list) or not order
            or not all(isinstance(k, str) for k in order) or len(set(order)) != len(order)):
        raise ManifestError("manifest: network_order must be a non-empty list of unique keys")
    _limit(len(order), "modalities", f"{len(order):,} modalities")
    for key in order:
        _text(key, "modality key")
    for field_name in ("model_id", "model_version", "title", "licence", "precision"):
        if field_name in manifest:
            _text(manifest[field_name], field_name, "text_chars")
    footprint_m = manifest.get("footprint_m", 1920)
    if (not isinstance(footprint_m, int | float) or isinstance(footprint_m, bool)
            or not math.isfinite(footprint_m) or footprint_m <= 0):
        raise ManifestError(f"manifest: footprint_m must be a positive number of metres, got "
                            f"{footprint_m!r}")
    table = _get(manifest, "modalities", "the top level")
    if not isinstance(table, Mapping):
        raise ManifestError("manifest: 'modalities' must be an object keyed by modality")
    missing, extra = set(order) - set(table), set(table) - set(order)
    if missing or extra:
        raise ManifestError(
            f"manifest: network_order and modalities disagree: not described {sorted(missing)}, "
            f"not in network_order {sorted(extra)}"
        )
    modalities = {k: _parse_modality(k, table[k], files, float(footprint_m)) for k in order}
    denoiser = _get(manifest, "denoiser", "the top level")
    if denoiser not in files:
        raise ManifestError(f"manifest: denoiser {denoiser!r} is not listed in 'files'")
    _limit(len(manifest.get("variants") or ()), "variants",
           f"{len(manifest.get('variants') or ()):,} graph variants")
    variants, default_variant = parse_variants(manifest, files, variant_roles(order, table))
    schedule = parse_schedule(_get(manifest, "schedule", "the top level"))
    _limit(schedule.num_train_timesteps, "schedule_length",
           f"a {schedule.num_train_timesteps:,}-step noise schedule")
    return ModelPackage(
        root=root, manifest=manifest,
        model_id=str(_get(manifest, "model_id", "the top level")),
        model_version=str(manifest.get("model_version", "")),
        title=str(manifest.get("title", manifest["model_id"])),
        demo=bool(manifest.get("demo", False)), licence=str(manifest.get("licence", "")),
        precision=str(manifest.get("precision", "fp32")),
        footprint_m=float(footprint_m),
        network_order=tuple(order), modalities=modalities, schedule=schedule,
        solver=_parse_solver(manifest.get("solver")), denoiser=denoiser, files=files,
        variants=variants, default_variant=default_variant,
    )


def load_package(
    root: str | Path, *, verify: str = "cached", cache_path: str | Path | None = None
) -> ModelPackage:
    """Read and validate a package folder.

    ``verify``: ``cached`` (hash each file once, then trust it while its size and mtime are
    unchanged), ``full`` (hash every file now), ``size`` (existence and sizes only) or ``none``
    (existence only). ``cache_path`` overrides the verification cache file.
    """
    if verify not in VERIFY_MODES:
        raise InputError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
    root = Path(root).expanduser().resolve()
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ManifestError(f"no manifest.json in {root}: not a model package")
    size = manifest_path.stat().st_size
    _limit(size, "manifest_bytes", f"a {size:,}-byte manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{manifest_path} is not readable JSON: {exc}") from exc
    package = parse_manifest(root, manifest)
    verify_files(root, package.files.values(), mode=verify, cache_path=cache_path)
    logger.info("model package %s %s (%s) at %s, %d modalities", package.model_id,
                package.model_version, "demo" if package.demo else "full", root,
                len(package.network_order))
    return package
