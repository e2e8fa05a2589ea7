"""Package file verification: existence, size and SHA-256, hashed once and remembered.

The cache maps a file's absolute path to (size, mtime_ns, expected sha256, time of the last
full hash) of its last successful verification. A file is hashed again whenever any of the
first three differs, so a replaced or rewritten file is caught. An edit that keeps both size
and mtime (a tool that restores timestamps, bit rot, a deliberate swap) would slip through a
pure stamp check, so the cached mode also re-hashes a file in full once its last hash is
older than ``REVERIFY_AFTER_S`` (a day): at most one full read per file and day, paid at the
next load (a few seconds per GB), and a change found then fails the load with a message
saying the file changed after it was verified. ``full`` hashes everything now (diagnostics
``--verify full``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChangedFileError, MissingFileError

logger = logging.getLogger(__name__)

#: how a package's files are checked at load (``load_package``, diagnostics ``--verify``);
#: dependency-free here, so the Processing layer declares its enumeration at load time
VERIFY_MODES = ("cached", "full", "size", "none")
CHUNK = 8 * 1024 * 1024
#: the cached mode hashes a file in full again when its last full hash is older than this
REVERIFY_AFTER_S = 24 * 3600


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


def _fresh(entry: list) -> bool:
    """The entry's last full hash is younger than ``REVERIFY_AFTER_S`` (and not in the future)."""
    hashed = entry[3] if len(entry) > 3 and isinstance(entry[3], int | float) else None
    return hashed is not None and 0 <= time.time() - hashed < REVERIFY_AFTER_S


def _when(entry: list | None) -> str:
    if entry is None or len(entry) < 4 or not isinstance(entry[3], int | float):
        return "an earlier load"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(entry[3]))


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
        known = cache.get(key)
        same_stamp = isinstance(known, list) and known[:3] == stamp
        if mode == "cached" and isinstance(known, list) and same_stamp and _fresh(known):
            continue
        logger.info("verifying SHA-256 of %s (%d bytes%s)", path, stat.st_size,
                    ", daily re-check" if same_stamp else "")
        actual = sha256_of(path)
        if actual != entry.sha256:
            cache.pop(key, None)
            dirty = True
            if mode == "cached":
                _save_cache(cache_file, cache)
            since = (f"; it changed after it was verified on {_when(known)} although its size "
                     "and modification time did not: replace the package (download it again)"
                     if same_stamp else "")
            raise ChangedFileError(
                f"model package {root}: {entry.name} has SHA-256 {actual}, the manifest says "
                f"{entry.sha256} (the file was changed or corrupted{since})"
            )
        cache[key] = [*stamp, time.time()]
        dirty = True
    if mode == "cached" and dirty:
        _save_cache(cache_file, cache)
