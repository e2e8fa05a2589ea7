"""Where model packages live on this machine, and which ones are there.

A package is a folder with a ``manifest.json`` (docs/MODEL_PACKAGE.md). Packages are looked up
in ``$COPGEN_MODELS_DIR`` (if set), the per-user models folder, and the plugin's own
``resources/models`` (the embedded demo model).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PackageInfo:
    """What the diagnostics and model pickers show about one package (manifest not validated)."""

    model_id: str
    version: str
    path: Path
    demo: bool


def user_data_dir() -> Path:
    """The plugin's per-user data folder (models, dependency folders)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "copgen_plugin"


def user_models_dir() -> Path:
    """Per-user folder for downloaded/exported packages (overridable with COPGEN_MODELS_DIR)."""
    env = os.environ.get("COPGEN_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "models"


def search_dirs() -> list[Path]:
    """Folders searched for packages, most specific first."""
    return [user_models_dir(), PLUGIN_ROOT / "resources" / "models"]


def read_info(folder: Path) -> PackageInfo | None:
    """Minimal facts from a package folder's manifest, or None if it is not a package."""
    manifest = folder / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return PackageInfo(
        model_id=str(data.get("model_id", folder.name)),
        version=str(data.get("model_version", "?")),
        path=folder,
        demo=bool(data.get("demo", False)),
    )


def find_packages(dirs: list[Path] | None = None) -> list[PackageInfo]:
    """Every package folder directly inside the search folders (a folder may be one itself)."""
    found: list[PackageInfo] = []
    for base in dirs if dirs is not None else search_dirs():
        children = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        candidates = [base, *children]
        for folder in candidates:
            info = read_info(folder)
            if info is not None:
                found.append(info)
    return found
