"""Which model package a request means: a package folder, or a model id found in the models folders.

The Processing layer and the CLI both pass ``FillRequest.model`` as typed by the user; resolving
it here gives both the same rules and the same error, which lists what is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..engine.package import ModelPackage, load_package
from ..errors import InputError
from ..model_store import PackageInfo, find_packages, search_dirs

_log = logging.getLogger(__name__)


def _installed(found: Sequence[PackageInfo]) -> str:
    if not found:
        return "no model package is installed"
    return "installed: " + ", ".join(
        f"{p.model_id} {p.version}{' (demo)' if p.demo else ''} at {p.path}" for p in found)


def resolve_model(model: str, *, dirs: Sequence[Path] | None = None) -> Path:
    """The package folder ``model`` names: a folder holding ``manifest.json``, else the first
    installed package whose ``model_id`` equals ``model`` (search order of ``model_store``)."""
    text = str(model).strip()
    if not text:
        raise InputError("no model given: name a model package folder or an installed model id")
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise InputError(f"{path} is a folder but not a model package (no manifest.json)")
        return path.resolve()
    if path.name == "manifest.json" and path.is_file():
        return path.parent.resolve()
    found = find_packages(list(dirs) if dirs is not None else None)
    for info in found:
        if info.model_id == text:
            _log.info("model %s resolved to %s", text, info.path)
            return info.path.resolve()
    where = ", ".join(str(d) for d in (dirs if dirs is not None else search_dirs()))
    raise InputError(f"unknown model {text!r}: not a package folder and no installed package has "
                     f"that model id ({_installed(found)}; searched {where})")


def open_package(model: str, *, dirs: Sequence[Path] | None = None) -> ModelPackage:
    """Resolve and parse the package (files verified by size and cached hash)."""
    return load_package(resolve_model(model, dirs=dirs))
