"""The plugin-owned folder that holds the run-time packages, one per exact Python.

Layout under ``<user data>/copgen_plugin/site-packages/`` (or ``$COPGEN_DEPS_DIR``)::

    cp311-cp311-linux_x86_64/            the active folder, put on sys.path at plugin load
        copgen-deps.json                 marker: requirement hash, flavour, packages, Python
    cp311-cp311-linux_x86_64.staging-*   an install in progress (or killed: removed next time)
    cp311-cp311-linux_x86_64.pending     complete, waiting to replace a folder in use (Windows)

The marker is written last into the staging folder and the folder is swapped in by renames,
so a folder without a valid marker is never put on sys.path: a killed install cannot leave a
half environment in QGIS's way.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CopgenError
from ..model_store import user_data_dir
from .interpreter import python_key

log = logging.getLogger(__name__)

MARKER = "copgen-deps.json"
MARKER_FORMAT = 1


def deps_root() -> Path:
    """Parent of the per-Python folders (``$COPGEN_DEPS_DIR`` overrides it)."""
    env = os.environ.get("COPGEN_DEPS_DIR")
    return Path(env).expanduser() if env else user_data_dir() / "site-packages"


class BusyError(CopgenError):
    """Another process is installing into the same dependency folder."""


def _staging_pid(folder: Path) -> int | None:
    try:
        return int(folder.name.split(".staging-", 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True if process `pid` exists (a staging folder's owner may still be writing it)."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class SiteDir:
    """The dependency folder of one Python (`key` from interpreter.python_key)."""

    root: Path
    key: str

    @classmethod
    def current(cls) -> SiteDir:
        return cls(deps_root(), python_key())

    @property
    def path(self) -> Path:
        return self.root / self.key

    @property
    def pending(self) -> Path:
        return self.root / f"{self.key}.pending"

    def marker(self, folder: Path | None = None) -> dict[str, Any] | None:
        """The marker of `folder` (default: the active one), or None if absent or unreadable."""
        try:
            data = json.loads(((folder or self.path) / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == MARKER_FORMAT else None

    def state(self, requirements_hash: str | None = None) -> str:
        """absent | incomplete (no valid marker) | outdated (other requirements) | ok."""
        if not self.path.is_dir():
            return "absent"
        marker = self.marker()
        if marker is None:
            return "incomplete"
        if requirements_hash is not None and marker.get("requirements_hash") != requirements_hash:
            return "outdated"
        return "ok"

    def new_staging(self) -> Path:
        """A fresh staging folder; those of killed installs are removed first.

        Raises BusyError while another live process is installing for the same Python.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        for other in self.root.glob(f"{self.key}.staging-*"):
            pid = _staging_pid(other)
            if pid is not None and pid != os.getpid() and pid_alive(pid):
                raise BusyError(f"another install of the COP-GEN dependencies is running "
                                f"(process {pid}, {other}): wait for it to finish")
        for stale in self.root.glob(f"{self.key}.staging-*"):
            log.info("removing the unfinished install %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        staging = self.root / f"{self.key}.staging-{os.getpid()}-{int(time.time())}"
        staging.mkdir()
        return staging

    def write_marker(self, folder: Path, data: dict[str, Any]) -> None:
        tmp = folder / (MARKER + ".tmp")
        tmp.write_text(json.dumps({"format": MARKER_FORMAT, **data}, indent=2), encoding="utf-8")
        tmp.replace(folder / MARKER)

    def swap_in(self, staging: Path) -> bool:
        """Make `staging` (marker written) the active folder. False: parked as pending, because
        the active folder is in use (Windows keeps loaded DLLs locked); the next load swaps it."""
        old = self.root / f"{self.key}.old-{os.getpid()}-{int(time.time())}"
        try:
            if self.path.exists():
                self.path.rename(old)
            staging.rename(self.path)
        except OSError as exc:
            log.warning("cannot replace %s now (%s): the new packages are used after a restart",
                        self.path, exc)
            if old.exists() and not self.path.exists():
                old.rename(self.path)
            shutil.rmtree(self.pending, ignore_errors=True)
            staging.rename(self.pending)
            return False
        shutil.rmtree(old, ignore_errors=True)
        return True

    def finish_pending(self) -> None:
        """Swap in an install parked by swap_in, before anything is imported from the folder."""
        if not self.pending.is_dir() or self.marker(self.pending) is None:
            return
        old = self.root / f"{self.key}.old-{os.getpid()}-{int(time.time())}"
        try:
            if self.path.exists():
                self.path.rename(old)
            self.pending.rename(self.path)
        except OSError as exc:
            log.warning("cannot activate the pending install %s: %s", self.pending, exc)
            if old.exists() and not self.path.exists():
                old.rename(self.path)
            return
        shutil.rmtree(old, ignore_errors=True)

    def activate(self) -> bool:
        """Put the active folder first on sys.path if its install is complete; True if so.

        First on the path, because the pinned packages must win over older copies in QGIS's
        Python (Debian's attrs 22 breaks rasterio's affine). Idempotent.
        """
        self.finish_pending()
        if self.state() != "ok":
            return False
        entry = str(self.path)
        if entry not in sys.path:
            sys.path.insert(0, entry)
        return True


def activate() -> bool:
    """SiteDir.current().activate(), never raising: the plugin must load whatever happens."""
    try:
        return SiteDir.current().activate()
    except Exception as exc:  # a broken folder must not stop QGIS from loading the plugin
        log.warning("COP-GEN dependency folder not used: %s", exc)
        return False
