"""Package file verification: existence, size and SHA-256, hashed once and remembered.

The cache maps a file's absolute path to (size, mtime_ns, expected sha256) of its last
successful verification. A file is hashed again whenever any of them differs, so a replaced or
rewritten file is caught; only an edit that preserves both size and mtime would slip through
the cached mode, which is why ``full`` exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChangedFileError, MissingFileError

logger = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    """A package file as the manifest lists it."""

    name: str
    sha256: str
    bytes: int


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/copgen_plugin/verified_files.json`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "copgen_plugin" / "verified_files.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _load_cache(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(path: Path, cache: dict[str, list]) -> None:
    """Write atomically; a cache that cannot be written only costs time later."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".verified-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(cache, fh)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write the verification cache %s: %s", path, exc)


def verify_files(
    root: Path, entries: Iterable[FileEntry], *, mode: str = "cached",
    cache_path: str | Path | None = None,
) -> None:
    """Raise :class:`MissingFileError` / :class:`ChangedFileError` for the first bad file."""
    cache_file = Path(cache_path) if cache_path else default_cache_path()
    cache = _load_cache(cache_file) if mode == "cached" else {}
    dirty = False
    for entry in entries:
        path = root / entry.name
        if not path.is_file():
            raise MissingFileError(f"model package {root}: missing file {entry.name}")
        if mode == "none":
            continue
        stat = path.stat()
        if stat.st_size != entry.bytes:
            raise ChangedFileError(
                f"model package {root}: {entry.name} has {stat.st_size} bytes, the manifest "
                f"says {entry.bytes} (truncated or replaced file?)"
            )
        if mode == "size":
            continue
        key = str(path.resolve())
        stamp = [stat.st_size, stat.st_mtime_ns, entry.sha256]
        if mode == "cached" and cache.get(key) == stamp:
            continue
        logger.info("verifying SHA-256 of %s (%d bytes)", path, stat.st_size)
        actual = sha256_of(path)
        if actual != entry.sha256:
            cache.pop(key, None)
            dirty = True
            if mode == "cached":
                _save_cache(cache_file, cache)
            raise ChangedFileError(
                f"model package {root}: {entry.name} has SHA-256 {actual}, the manifest says "
                f"{entry.sha256} (the file was changed or corrupted)"
            )
        cache[key] = stamp
        dirty = True
    if mode == "cached" and dirty:
        _save_cache(cache_file, cache)
