"""Facts about this installation, for bug reports: versions, ONNX Runtime providers, models.

QGIS-free, so the CLI and the Processing algorithm print the same report. Every probe catches
its own failure: a missing package is a fact to report, not an error.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .engine.verify import VERIFY_MODES
from .install.deps import check, is_importable
from .model_store import PackageInfo, find_packages, search_dirs, user_models_dir

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
    "model_variants",
    "missing_dependencies",
    "deps_folder",
    "deps_state",
    "python_for_pip",
    "real_model",
    "models_free_disk",
    "memory_total",
    "next_step",
)

#: COP-GEN base as copgen:download_model fetches it: `500000_nnet_ema.pth` (1,148,062,395 B)
#: plus the 10 VAE `model-50-ema.pth` files (334.9-335.0 MB each), computed from the parameter
#: counts in ../shared/reference (no published size was found): 4.50 GB.
BASE_DOWNLOAD_BYTES = 4_497_383_000
#: The installed package (fp32 ONNX graphs) is about as large as the checkpoints.
BASE_PACKAGE_BYTES = 4_500_000_000
#: Memory to run COP-GEN base on the CPU: its fp32 weights plus working memory.
BASE_MEMORY_BYTES = 5_000_000_000
GB = 1e9

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



def model_variants(packages: list[PackageInfo], provider_used: str) -> str:
    """Each package's graph variants and the one a run on the probed device would take."""
    if not packages:
        return "no package"
    try:
        from .engine.package import load_package
        from .engine.variants import choose_variant
        from .errors import CopgenError
    except ImportError as exc:
        return f"not read: {exc}"
    device = "cuda" if provider_used == "CUDAExecutionProvider" else "cpu"
    lines = []
    for info in packages:
        try:
            package = load_package(info.path, verify="none")
        except CopgenError as exc:
            lines.append(f"{info.model_id}: unreadable ({exc})")
            continue
        listed = ", ".join(f"{v.describe()} for {'/'.join(v.devices)}"
                           for v in package.variants.values())
        chosen = choose_variant(package, "auto", device).variant.name
        lines.append(f"{info.model_id}: {listed}; on {device}: {chosen}")
    return "; ".join(lines)


def _deps_facts() -> dict[str, str]:
    """The plugin's dependency folder and its state, and the Python pip would run with."""
    from .install.interpreter import find_python
    from .install.plan import PlanError, make_plan
    from .install.sitedir import SiteDir

    try:
        site = SiteDir.current()
        marker = site.marker() or {}
        wanted = None
        if marker:
            try:
                wanted = make_plan(str(marker.get("flavour", "cpu")),
                                   numpy_version=str(marker.get("numpy", ""))).requirements_hash
            except PlanError:
                wanted = None
        state = site.state(wanted)
        if state == "absent" and check().ok:
            state = "absent (not needed: this Python has the run-time packages)"
        if state == "ok":
            state = (f"ok: {marker.get('flavour')} build, {len(marker.get('packages', []))} "
                     f"packages, installed {marker.get('installed_at', '?')}"
                     + ("" if str(site.path) in sys.path else " (not on sys.path: restart QGIS)"))
        python, tried = find_python()
        return {"deps_folder": str(site.path), "deps_state": state,
                "python_for_pip": str(python.executable) if python
                else "none found (" + "; ".join(tried) + "): set COPGEN_PYTHON"}
    except Exception as exc:  # a diagnostics probe reports, never raises
        return {"deps_folder": "?", "deps_state": f"check failed: {exc}",
                "python_for_pip": "?"}


def _memory_total() -> int | None:
    """Physical memory in bytes, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong),
                        ("total", ctypes.c_ulonglong), ("avail", ctypes.c_ulonglong),
                        ("page_total", ctypes.c_ulonglong), ("page_avail", ctypes.c_ulonglong),
                        ("virt_total", ctypes.c_ulonglong), ("virt_avail", ctypes.c_ulonglong),
                        ("ext", ctypes.c_ulonglong)]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.total)
    return None


def _free_disk(folder: Path) -> int | None:
    """Free bytes on the disk that holds `folder` (its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _model_facts(packages: list[PackageInfo], missing: str) -> dict[str, str]:
    """Is a real COP-GEN package installed, and if not, what getting one takes."""
    real = [p for p in packages if not p.demo]
    models = user_models_dir()
    free = _free_disk(models)
    memory = _memory_total()
    free_text = f"{free / GB:.1f} GB free at {models}" if free is not None else "unknown"
    need = BASE_DOWNLOAD_BYTES + BASE_PACKAGE_BYTES
    facts = {"models_free_disk": free_text,
             "memory_total": f"{memory / GB:.1f} GB" if memory else "unknown"}
    if real:
        facts["real_model"] = "; ".join(f"{p.model_id} {p.version} at {p.path}" for p in real)
    else:
        facts["real_model"] = (
            "none installed (only the demo model, which is not COP-GEN's weights): "
            f"copgen:download_model gets COP-GEN base: a {BASE_DOWNLOAD_BYTES / GB:.1f} GB "
            f"download, {need / GB:.0f} GB of disk while it converts (the package itself "
            f"{BASE_PACKAGE_BYTES / GB:.1f} GB), about {BASE_MEMORY_BYTES / GB:.0f} GB of "
            "memory to run it")
        if free is not None and free < need:
            facts["real_model"] += f"; only {free / GB:.1f} GB free at {models}"
        if memory is not None and memory < BASE_MEMORY_BYTES:
            facts["real_model"] += f"; this machine has only {memory / GB:.1f} GB of memory"
    if missing != "none":
        facts["next_step"] = ("install the dependencies: copgen:install_dependencies (or "
                              "Plugins > COP-GEN > Install dependencies..., or `python -m "
                              "copgen_plugin install-deps`)")
    elif not real:
        facts["next_step"] = "run copgen:download_model (defaults: COP-GEN base)"
    else:
        facts["next_step"] = "ready: run copgen:gapfill or copgen:generate"
    return facts


def collect(*, qgis_version: str | None = None, device: str = "auto",
            verify: str = "none") -> dict[str, str]:
    """Every fact of FACT_KEYS as a string; `device` picks the providers the probe asks for,
    `verify` how the packages' files are checked (VERIFY_MODES; ``full`` hashes them all)."""
    if device not in DEVICE_PROVIDERS:
        raise ValueError(f"device must be one of {sorted(DEVICE_PROVIDERS)}, not {device!r}")
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}, not {verify!r}")
    packages = find_packages()
    status = check()
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
        "missing_dependencies": ", ".join(status.missing + status.too_old) or "none",
    }
    facts.update(_ort_facts(device))
    facts["model_variants"] = model_variants(packages, str(facts["ort_provider_used"]))
    facts.update(_hub_facts())
    facts.update(_deps_facts())
    facts.update(_model_facts(packages, str(facts["missing_dependencies"])))
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
