"""The partial files of the atomic writer: their names, a lock that marks them live, and the
removal of stale ones (left by a run that was killed: SIGKILL, a power cut, a timeout).

A partial file is ``<stem>.partial-<8 hex>.tif`` beside its destination. While a writer owns
it, the writer holds an exclusive ``flock`` on it; the lock dies with the process. A partial
file whose lock can be taken therefore belongs to no live run and is removed at the start of
the next run into the same folder. Files that do not match the pattern, or whose stem is not
one of the run's outputs, are never touched. Without ``fcntl`` (Windows) only partial files
older than a day are taken for stale.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_log = logging.getLogger(__name__)

#: this tool's partial files (and the .aux.xml GDAL may put beside one)
PARTIAL_PATTERN = re.compile(r"^(?P<stem>.+)\.partial-[0-9a-f]{8}\.tif(?:\.aux\.xml)?$")
#: without locks: a partial file this old belongs to no live run
_STALE_AGE_S = 24 * 3600.0


class PartialFile:
    """A fresh, empty, locked partial file for ``dest`` (created here, so no other run can take
    it for stale between its creation and GDAL's writing into it)."""

    def __init__(self, dest: Path, suffix: str = ".tif") -> None:
        while True:
            path = dest.with_name(f"{dest.stem}.partial-{secrets.token_hex(4)}{suffix}")
            try:
                self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                continue
        self.path = path
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        """Drop the lock (after the file was renamed or removed). Idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Delete the file (and a GDAL side file), then release. Idempotent."""
        for p in (self.path, Path(f"{self.path}.aux.xml")):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self.release()


def _is_stale(path: Path) -> bool:
    if fcntl is None:
        return time.time() - path.stat().st_mtime > _STALE_AGE_S
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live run holds it
    finally:
        os.close(fd)  # closing drops the probe's lock
    return True


def clear_stale_partials(folder: Path, is_output_stem: Callable[[str], bool]) -> list[Path]:
    """Remove this tool's stale partial files in ``folder`` whose stem passes
    ``is_output_stem``; the removed paths (nothing else is ever touched)."""
    if not folder.is_dir():
        return []
    removed = []
    for p in sorted(folder.iterdir()):
        m = PARTIAL_PATTERN.match(p.name)
        if m is None or not is_output_stem(m["stem"]) or not p.is_file():
            continue
        owner = p.with_name(p.name.removesuffix(".aux.xml"))
        if p != owner and owner.exists():
            continue  # goes with its .tif, below or never
        if p == owner and not _is_stale(p):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
        with contextlib.suppress(FileNotFoundError):
            Path(f"{p}.aux.xml").unlink()
    if removed:
        _log.info("removed %d stale partial file(s) of an earlier run in %s", len(removed), folder)
    return removed
