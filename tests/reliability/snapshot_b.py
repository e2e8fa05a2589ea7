"""A folder's content as names, sizes and SHA-256: taken before and after a failed run, the
two must be equal (inputs and their folders are never modified, nothing is left behind)."""

from __future__ import annotations

import hashlib
from pathlib import Path

Snapshot = dict[str, tuple[int, str]]


def snapshot(*folders: Path) -> Snapshot:
    """Every file under ``folders`` (recursively): relative name -> (size, sha256); folders
    appear with size -1 so an empty folder left behind counts too."""
    out: Snapshot = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            name = f"{folder.name}/{path.relative_to(folder)}"
            if path.is_dir():
                out[name] = (-1, "")
            else:
                out[name] = (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    return out
