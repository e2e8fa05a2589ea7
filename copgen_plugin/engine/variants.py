"""Graph variants of a package: parsed from the manifest, chosen by the device actually got.

A package may hold several sets of graphs (docs/MODEL_PACKAGE.md "Variants"): the fp32 graphs
for CPUs and an fp16 denoiser from the dynamo exporter with the ONNX ``Attention`` operator for
CUDA. The choice follows the device ONNX Runtime really gives (a CUDA provider that fails to
start leaves the session on the CPU, and the CPU then gets the CPU's variant); a forced
``precision`` overrides it; a variant that does not load falls back to the default with the
reason logged and reported (:attr:`VariantChoice.reason`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import ManifestError, ModelLoadError
from .devices import PRECISIONS
from .runtime import CPU, OnnxModel, RuntimeOptions, import_onnxruntime, requested_providers
from .verify import FileEntry

if TYPE_CHECKING:  # pragma: no cover
    from .package import ModelPackage

logger = logging.getLogger(__name__)

#: the precisions a graph variant may declare, and the devices it may be meant for
VARIANT_PRECISIONS = ("fp32", "fp16", "bf16")
VARIANT_DEVICES = ("cpu", "cuda")
MAX_VARIANTS = 16


@dataclass(frozen=True)
class GraphVariant:
    """One set of graphs of a package (e.g. fp32 for CPUs, fp16 with ONNX Attention for CUDA).

    ``files`` maps the roles it overrides (``denoiser``, ``encoder:<key>``, ``decoder:<key>``)
    to package files; every other role falls back to the default files. A manifest without
    ``variants`` has one variant, named after its ``precision``, meant for every device.
    """

    name: str
    precision: str
    exporter: str
    opset: int
    devices: tuple[str, ...]
    files: Mapping[str, str]

    def describe(self) -> str:
        """E.g. ``fp16 (dynamo exporter, opset 23)`` for reports."""
        how = ", ".join(x for x in (f"{self.exporter} exporter" if self.exporter else "",
                                    f"opset {self.opset}" if self.opset else "") if x)
        label = self.name if self.name == self.precision else f"{self.name} ({self.precision})"
        return f"{label} ({how})" if how else label


def variant_roles(order: list[str], table: Mapping[str, Any]) -> set[str]:
    """The roles a variant may override: the denoiser and each image modality's tokenizer."""
    roles = {"denoiser"}
    for key in order:
        if isinstance(table.get(key), Mapping) and table[key].get("kind") == "image":
            roles |= {f"encoder:{key}", f"decoder:{key}"}
    return roles


def _parse_variant(name: Any, value: Any, files: Mapping[str, FileEntry],
                   roles: set[str]) -> GraphVariant:
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise ManifestError(f"manifest: variant name {name!r} must be 1 to 64 characters")
    where = f"variant {name!r}"
    if not isinstance(value, Mapping):
        raise ManifestError(f"manifest: {where} must be an object")
    precision = value.get("precision")
    if precision not in VARIANT_PRECISIONS:
        raise ManifestError(f"manifest: {where} has precision {precision!r}; expected one of "
                            f"{VARIANT_PRECISIONS}")
    devices = value.get("devices", list(VARIANT_DEVICES))
    if (not isinstance(devices, list) or not devices
            or not all(d in VARIANT_DEVICES for d in devices)):
        raise ManifestError(f"manifest: {where} devices must be a non-empty list of "
                            f"{VARIANT_DEVICES}, got {devices!r}")
    opset = value.get("opset", 0)
    if not isinstance(opset, int) or isinstance(opset, bool) or not 0 <= opset < 1000:
        raise ManifestError(f"manifest: {where} opset must be a small integer, got {opset!r}")
    exporter = value.get("exporter", "")
    if not isinstance(exporter, str) or len(exporter) > 64:
        raise ManifestError(f"manifest: {where} exporter must be a short string")
    own = value.get("files", {})
    if not isinstance(own, Mapping):
        raise ManifestError(f"manifest: {where} files must map roles to file names")
    for role, file_name in own.items():
        if role not in roles:
            raise ManifestError(f"manifest: {where} overrides unknown role {role!r} "
                                "(roles: denoiser, encoder:<key>, decoder:<key>)")
        if file_name not in files:
            raise ManifestError(f"manifest: {where} {role} {file_name!r} is not listed in "
                                "'files'")
    return GraphVariant(name=name, precision=precision, exporter=exporter, opset=opset,
                        devices=tuple(devices), files=dict(own))


def parse_variants(manifest: Mapping[str, Any], files: Mapping[str, FileEntry],
                   roles: set[str]) -> tuple[dict[str, GraphVariant], str]:
    """The ``variants`` table and the default's name; an older manifest without one gets a
    single variant named after its ``precision``, for every device, overriding nothing."""
    precision = str(manifest.get("precision", "fp32"))
    table = manifest.get("variants")
    if table is None:
        legacy = GraphVariant(name=precision, precision=precision, exporter="", opset=0,
                              devices=VARIANT_DEVICES, files={})
        return {precision: legacy}, precision
    if not isinstance(table, Mapping) or not table:
        raise ManifestError("manifest: 'variants' must map variant names to objects")
    if len(table) > MAX_VARIANTS:
        raise ManifestError(f"manifest declares {len(table):,} graph variants; the limit is "
                            f"{MAX_VARIANTS}: not a COP-GEN package (or a hostile one)")
    variants = {str(k): _parse_variant(k, v, files, roles) for k, v in table.items()}
    default = manifest.get("default_variant", precision)
    if default not in variants:
        raise ManifestError(f"manifest: default_variant {default!r} is not one of the variants "
                            f"{sorted(variants)}")
    if variants[default].files:
        raise ManifestError(f"manifest: the default variant {default!r} must use the default "
                            "files (its 'files' must be empty)")
    return variants, default


# --------------------------------------------------------------------------------------------
# the choice


@dataclass(frozen=True)
class VariantChoice:
    """The variant a session runs, the device it was chosen for, and why (for the report)."""

    variant: GraphVariant
    device: str
    reason: str
    cuda_graphs: str = ""  # "", "on", or "refused: <why>" (CUDA only)
    runtime: str = ""  # set when another runtime than ONNX Runtime runs it: "OpenVINO bf16"

    def describe(self) -> str:
        """The report's line, e.g. ``fp16 (dynamo exporter, opset 23) on cuda: ...``, or
        ``fp32 (...) on cpu, run by OpenVINO bf16: ...`` (the precision it really ran in)."""
        graphs = f"; CUDA graphs {self.cuda_graphs}" if self.cuda_graphs else ""
        runtime = f", run by {self.runtime}" if self.runtime else ""
        return f"{self.variant.describe()} on {self.device}{runtime}: {self.reason}{graphs}"


def choose_variant(package: ModelPackage, precision: str, device: str) -> VariantChoice:
    """The variant for ``device`` (``cpu``/``cuda``): a forced ``precision`` (a variant name or
    precision) wins; ``auto`` takes the default when it is made for the device, else the first
    variant made for it, else the default."""
    if precision not in PRECISIONS:
        raise ManifestError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    variants, default = package.variants, package.variants[package.default_variant]
    if precision != "auto":
        named = variants.get(precision) or next(
            (v for v in variants.values() if v.precision == precision), None)
        if named is not None:
            return VariantChoice(named, device, f"{precision} asked for")
        return VariantChoice(default, device, f"{precision} asked for, but this package has "
                             f"only {', '.join(variants)}: using {default.name}")
    if device in default.devices:
        return VariantChoice(default, device, f"made for {device}")
    fitting = next((v for v in variants.values() if device in v.devices), None)
    if fitting is not None:
        return VariantChoice(fitting, device, f"made for {device}")
    return VariantChoice(default, device, f"no variant is made for {device}: the default")


def expected_device(options: RuntimeOptions) -> str:
    """The device a session with these options asks for (``cuda`` only where this onnxruntime
    has the CUDA provider); the session may still end up on the CPU."""
    ort = import_onnxruntime()
    providers = requested_providers(options, ort.get_available_providers())
    return "cpu" if providers[0] == CPU else "cuda"


def initial_choice(package: ModelPackage, options: RuntimeOptions) -> VariantChoice:
    """The variant for the device these options will ask ONNX Runtime for."""
    expected = expected_device(options)
    choice = choose_variant(package, options.precision, expected)
    if options.device == "cuda" and expected == "cpu":
        return replace(choice, reason="CUDA asked for, but this onnxruntime has no CUDA "
                                      f"provider; {choice.reason}")
    return choice


def _open(package: ModelPackage, choice: VariantChoice, options: RuntimeOptions
          ) -> tuple[OnnxModel, VariantChoice]:
    """The denoiser session of ``choice``; on CUDA with CUDA graphs asked for, a session that
    refuses them is opened again without, and the refusal is kept for the report."""
    path = package.path(package.variant_file(choice.variant.name, "denoiser"))
    name = f"denoiser ({choice.variant.name})"
    if choice.device == "cuda" and options.cuda_graphs:
        try:
            model = OnnxModel(path, options, name=name, cuda_options={"enable_cuda_graph": "1"})
            return model, replace(choice, cuda_graphs="on" if model.on_cuda else "")
        except ModelLoadError as exc:
            logger.warning("%s: CUDA graphs refused, running without them: %s", name, exc)
            model = OnnxModel(path, options, name=name)
            return model, replace(choice, cuda_graphs=f"refused ({str(exc)[:200]})")
    model = OnnxModel(path, options, name=name, openvino=True)  # OpenVINO on a CPU if installed
    if model.backend is not None:  # OpenVINO runs it in its own precision: the report says so
        return model, replace(choice, runtime=f"OpenVINO {model.precision}")
    if model.precision is None:  # ONNX Runtime: the variant's precision
        model.precision = choice.variant.precision
    return model, choice


def open_denoiser(package: ModelPackage, options: RuntimeOptions
                  ) -> tuple[OnnxModel, VariantChoice]:
    """The denoiser session of the variant fitting the device this session actually got."""
    choice = initial_choice(package, options)
    expected = choice.device
    default = package.variants[package.default_variant]
    try:
        model, choice = _open(package, choice, options)
    except ModelLoadError as exc:
        if choice.variant.name == default.name:
            raise
        reason = (f"{choice.variant.name} did not load ({str(exc)[:300]}); fell back to "
                  f"{default.name}")
        logger.warning("denoiser: %s", reason)
        model, choice = _open(package, VariantChoice(default, expected, reason), options)
    if model.device != expected and options.precision == "auto":
        again = choose_variant(package, "auto", model.device)
        if again.variant.name != choice.variant.name:
            reason = (f"{choice.variant.name} was chosen for {expected}, but ONNX Runtime runs "
                      f"it on {model.device}; fell back to {again.variant.name}")
            logger.warning("denoiser: %s", reason)
            model, choice = _open(package, replace(again, reason=reason), options)
    choice = replace(choice, device=model.device)
    logger.info("denoiser variant %s", choice.describe())
    return model, choice
