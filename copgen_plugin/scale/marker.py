"""What makes a scene task idempotent: the request's hash, the completion marker written last,
and the clearing of what a killed attempt left behind.

A scene's folder is complete when ``.copgen-complete.json`` names the same request hash and
every output's SHA-256 still matches. A rerun of the same batch skips such scenes and redoes
the others from scratch: stale ``*.partial-*`` files (a process killed between two renames or
during a write leaves them), an outdated marker and footprint results of a split scene are
removed first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..engine.package import ModelPackage
from ..fill import folders as fill_folders
from ..fill.request import FillRequest

MARKER = ".copgen-complete.json"
#: footprint results of a scene split into footprint tasks (removed when the scene is done)
WORK_DIR = ".copgen-work"
#: request fields that do not change the outputs (the marker ignores them)
_NOT_HASHED = ("threads", "batch_size", "batch_rows", "outputs")


def scene_folder(request: FillRequest) -> Path:
    return request.outputs.filled.parent


def output_paths(request: FillRequest) -> list[Path]:
    """Every file a finished scene holds: filled, spread and the N samples."""
    outs = request.outputs
    return [outs.filled, outs.spread,
            *(outs.sample(k) for k in range(1, request.n_samples + 1))]


def _file_id(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return [str(path), None]
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def request_hash(request: FillRequest, package: ModelPackage) -> str:
    """SHA-256 of what decides a scene's outputs: the request (without threads, batch size
    and output paths), each input file's path, size and modification time, and the model
    package's manifest."""
    fields = {k: v for k, v in dataclasses.asdict(request).items() if k not in _NOT_HASHED}
    inputs = [request.target.path, request.mask, *(c.path for c in request.conditions)]
    manifest = hashlib.sha256((package.root / "manifest.json").read_bytes()).hexdigest()
    blob = json.dumps({"request": fields, "inputs": [_file_id(p) for p in inputs],
                       "model": [package.model_id, package.model_version, manifest]},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def read_marker(request: FillRequest) -> dict[str, Any] | None:
    try:
        data = json.loads((scene_folder(request) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(request: FillRequest, digest: str) -> bool:
    """True when the marker names ``digest`` and every output matches its checksum."""
    marker = read_marker(request)
    if marker is None or marker.get("request_hash") != digest:
        return False
    sums = marker.get("outputs", {})
    folder = scene_folder(request)
    for p in output_paths(request):
        rel = str(p.relative_to(folder))
        if rel not in sums or not p.is_file() or file_sha256(p) != sums[rel]:
            return False
    return True


def clear_stale(request: FillRequest) -> list[Path]:
    """Remove what an earlier, unfinished attempt left in the scene's folder: partial files of
    its outputs, the marker, footprint results. Nothing else is touched. Returns what went."""
    folder = scene_folder(request)
    # partial files of the outputs: only those no live writer holds (fill's one rule)
    removed: list[Path] = fill_folders.clear_stale(request.outputs)
    for p in folder.glob(f"{MARKER}.tmp-*") if folder.is_dir() else ():
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    for p in (folder / MARKER, folder / WORK_DIR):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
        elif p.exists():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def write_marker(request: FillRequest, digest: str, facts: dict[str, Any]) -> Path:
    """Write the completion marker (atomically, after every output is in place)."""
    folder = scene_folder(request)
    sums = {str(p.relative_to(folder)): file_sha256(p) for p in output_paths(request)}
    dest = folder / MARKER
    tmp = folder / f"{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"request_hash": digest, "outputs": sums, **facts}, indent=2,
                              default=str), encoding="utf-8")
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest
