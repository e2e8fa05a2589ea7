"""Installing a package folder without ever touching what the tool did not create.

A package is built in a fresh hidden folder beside its destination, validated, stamped with
``.copgen-install.json`` (what was installed from where) and renamed into place. An existing
destination is replaced only when it carries that stamp; any other folder is left exactly as it
is and the install is refused with the fix. A replaced package is moved into the staging folder
first, so one rename publishes the new one and the old one leaves with the staging folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import HubError

log = logging.getLogger(__name__)

MARKER = ".copgen-install.json"
STAGING_OWNER = ".copgen-staging.json"


def staging_prefix(dest: Path) -> str:
    return f".{dest.name}.copgen-staging-"


def read_marker(dest: Path) -> dict[str, Any] | None:
    """The install record of a package folder this tool installed, or None."""
    try:
        record = json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("installed_by") == "copgen_plugin" \
        else None


def check_destination(dest: Path) -> dict[str, Any] | None:
    """None when ``dest`` is free; its install record when this tool installed it; else refuse."""
    if not dest.exists() and not dest.is_symlink():
        return None
    if dest.is_symlink() or not dest.is_dir():
        raise HubError(f"{dest} already exists and is not a package folder this tool installed; "
                       "nothing was changed: remove or rename it, or choose another models "
                       "folder or --out")
    record = read_marker(dest)
    if record is None:
        raise HubError(f"{dest} already exists and was not installed by this tool (it has no "
                       f"{MARKER}); nothing was changed: move or rename that folder, or choose "
                       "another models folder (MODELS_DIR) or --out")
    return record


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would terminate it there: never clear on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clear_stale(dest: Path) -> None:
    """Staging folders of this destination left by a killed run on this machine."""
    for folder in dest.parent.glob(staging_prefix(dest) + "*"):
        try:
            owner = json.loads((folder / STAGING_OWNER).read_text(encoding="utf-8"))
            stale = owner["host"] == socket.gethostname() and not _pid_alive(int(owner["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not provably ours: leave it
        if stale:
            log.info("removing %s, left by an interrupted install", folder)
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staging_folder(dest: Path) -> Iterator[Path]:
    """A fresh folder beside ``dest`` (same filesystem: the final rename is atomic), removed
    with everything in it when the block ends, whether it succeeded or not."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(dest)
    folder = Path(tempfile.mkdtemp(prefix=staging_prefix(dest), dir=dest.parent))
    try:
        (folder / STAGING_OWNER).write_text(json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "dest": str(dest)}),
            encoding="utf-8")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(package: Path, dest: Path, record: dict[str, Any]) -> None:
    """Stamp ``package`` and rename it to ``dest`` (replacing only a package this tool made)."""
    (package / MARKER).write_text(json.dumps({"installed_by": "copgen_plugin", **record},
                                             indent=1, sort_keys=True), encoding="utf-8")
    if dest.exists() or dest.is_symlink():
        check_destination(dest)  # again: it may have appeared since the start
        old = package.parent / "replaced"
        try:
            dest.replace(old)
        except OSError as exc:
            raise HubError(f"cannot replace {dest} ({exc}): close QGIS projects or runs "
                           "using that model and try again") from None
        try:
            package.replace(dest)
        except OSError:
            old.replace(dest)
            raise
        return
    package.replace(dest)
