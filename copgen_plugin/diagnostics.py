"""Facts about this installation, for bug reports: versions, ONNX Runtime providers, models.

QGIS-free, so the CLI and the Processing algorithm print the same report. Every probe catches
its own failure: a missing package is a fact to report, not an error.
"""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .deps import RUNTIME_MODULES, is_importable
from .engine.verify import VERIFY_MODES
from .model_store import PackageInfo, find_packages, search_dirs

#: Fact keys in report order; Processing outputs carry the same names in upper case.
FACT_KEYS: tuple[str, ...] = (
    "plugin_version",
    "qgis_version",
    "python_version",
    "platform",
    "numpy_version",
    "gdal_version",
    "rasterio_version",
    "rasterio_gdal_version",
    "onnxruntime_version",
    "ort_available_providers",
    "ort_requested_providers",
    "ort_provider_used",
    "ort_probe",
    "hf_hub_version",
    "hf_cache_dir",
    "model_dirs",
    "model_packages",
    "model_verification",
    "missing_dependencies",
)

DEVICE_PROVIDERS: dict[str, list[str]] = {
    "auto": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "cpu": ["CPUExecutionProvider"],
}


def _version(module: str, attr: str = "__version__") -> str:
    if not is_importable(module):
        return "not installed"
    try:
        return str(getattr(importlib.import_module(module), attr))
    except Exception as exc:  # broken installs are reported, not raised
        return f"import failed: {exc}"


def _gdal_version() -> str:
    try:
        from osgeo import gdal
    except ImportError:
        return "not installed"
    return str(gdal.__version__)


def _ort_facts(device: str) -> dict[str, str]:
    requested = DEVICE_PROVIDERS[device]
    facts = {"ort_requested_providers": ", ".join(requested)}
    if not is_importable("onnxruntime"):
        facts.update(ort_available_providers="onnxruntime not installed",
                     ort_provider_used="none", ort_probe="skipped")
        return facts
    from .onnx_probe import probe_providers

    try:
        probe = probe_providers(requested)
    except Exception as exc:
        facts.update(ort_available_providers="?", ort_provider_used="none",
                     ort_probe=f"failed: {exc}")
        return facts
    used = probe["used"][0] if probe["used"] else "none"
    note = ""
    if "CUDAExecutionProvider" in requested and used != "CUDAExecutionProvider":
        note = " (CUDA was asked for and not obtained: running on CPU)"
    facts.update(
        ort_available_providers=", ".join(probe["available"]),
        ort_provider_used=used,
        ort_probe=("ok" if probe["output_ok"] else "WRONG OUTPUT") + note,
    )
    return facts


def _hub_facts() -> dict[str, str]:
    if not is_importable("huggingface_hub"):
        return {"hf_hub_version": "not installed", "hf_cache_dir": "?"}
    try:
        from huggingface_hub import constants
    except Exception as exc:
        return {"hf_hub_version": f"import failed: {exc}", "hf_cache_dir": "?"}
    return {
        "hf_hub_version": _version("huggingface_hub"),
        "hf_cache_dir": str(constants.HF_HUB_CACHE),
    }


def verify_packages(packages: list[PackageInfo], mode: str) -> str:
    """Each package checked as ``load_package(verify=mode)`` would (``full``: every file's
    SHA-256 now, whatever the cache says); a failure starts with ``FAILED``."""
    if not packages:
        return "no package to verify"
    try:
        from .engine.package import load_package
        from .errors import CopgenError
    except ImportError as exc:
        return f"not verified: {exc}"
    lines = []
    for info in packages:
        try:
            package = load_package(info.path, verify=mode)
        except CopgenError as exc:
            lines.append(f"FAILED {info.model_id} at {info.path}: {exc}")
            continue
        lines.append(f"{info.model_id}: {len(package.files)} files ok ({mode})")
    return "; ".join(lines)


def collect(*, qgis_version: str | None = None, device: str = "auto",
            verify: str = "none") -> dict[str, str]:
    """Every fact of FACT_KEYS as a string; `device` picks the providers the probe asks for,
    `verify` how the packages' files are checked (VERIFY_MODES; ``full`` hashes them all)."""
    if device not in DEVICE_PROVIDERS:
        raise ValueError(f"device must be one of {sorted(DEVICE_PROVIDERS)}, not {device!r}")
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}, not {verify!r}")
    packages = find_packages()
    facts: dict[str, Any] = {
        "plugin_version": __version__,
        "qgis_version": qgis_version or "not running in QGIS",
        "python_version": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "numpy_version": _version("numpy"),
        "gdal_version": _gdal_version(),
        "rasterio_version": _version("rasterio"),
        "rasterio_gdal_version": _version("rasterio", "__gdal_version__"),
        "onnxruntime_version": _version("onnxruntime"),
        "model_dirs": ", ".join(str(d) for d in search_dirs()),
        "model_packages": "; ".join(
            f"{p.model_id} {p.version}{' (demo)' if p.demo else ''} at {p.path}" for p in packages
        ) or "none found",
        "model_verification": verify_packages(packages, verify),
        "missing_dependencies": ", ".join(m for m in RUNTIME_MODULES if not is_importable(m))
        or "none",
    }
    facts.update(_ort_facts(device))
    facts.update(_hub_facts())
    return {key: str(facts[key]) for key in FACT_KEYS}


def write_report(path: Path, facts: dict[str, str]) -> None:
    """The Markdown report, written to a temporary file and renamed (never half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(to_markdown(facts), encoding="utf-8")
    tmp.replace(path)


def to_markdown(facts: dict[str, str]) -> str:
    """The report as Markdown, ready to paste into a bug report."""
    lines = ["# COP-GEN plugin diagnostics", "", "| fact | value |", "|---|---|"]
    for key in FACT_KEYS:
        value = facts.get(key, "").replace("|", "\\|")
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"
