"""The output folders of a run, before and after it: missing folders created (and removed
again on failure), stale partial files of killed runs cleared, free space checked against the
outputs' size, stale samples of an earlier, larger run removed once the new set is published.

Only files this tool wrote are ever removed: partial files by their name pattern and lock
(``geo.partials``), samples by their name *and* their tags (``COPGEN_PRODUCT=sample``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from ..errors import OutputError
from ..geo.partials import clear_stale_partials
from .request import FillOutputs

_log = logging.getLogger(__name__)

_SAMPLE = re.compile(r"^sample_(?P<k>[1-9][0-9]*)$")


@contextlib.contextmanager
def output_folders(outs: FillOutputs) -> Iterator[None]:
    """Create the missing output folders; remove those created (if still empty) on failure."""
    created: list[Path] = []
    for folder in outs.folders():
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        created += [p for p in missing if p not in created]
    try:
        yield
    except BaseException:
        for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: never removes anything else
        raise


def clear_stale(outs: FillOutputs) -> list[Path]:
    """Remove the partial files a killed earlier run left for these outputs (their locks are
    free); the removed paths."""
    removed = []
    for folder in outs.folders():
        names = {p.stem for p in (outs.filled, outs.spread) if p.parent == folder}
        samples = folder == outs.samples_dir
        removed += clear_stale_partials(
            folder, lambda stem, n=names, s=samples: stem in n or (  # type: ignore[misc]
                s and _SAMPLE.match(stem) is not None))
    return removed


def _existing(folder: Path) -> Path:
    for p in (folder, *folder.parents):
        if p.exists():
            return p
    return folder


def check_free_space(outs: FillOutputs, need: dict[Path, int]) -> None:
    """Refuse (with the figures) when a file system lacks the space its outputs will take;
    ``need``: bytes per output folder (folders on one file system are added up)."""
    per_fs: dict[int, tuple[Path, int]] = {}
    for folder, n in need.items():
        where = _existing(folder)
        dev = where.stat().st_dev
        first, total = per_fs.get(dev, (where, 0))
        per_fs[dev] = (first, total + n)
    for where, total in per_fs.values():
        free = shutil.disk_usage(where).free
        if free < total:
            raise OutputError(
                f"not enough free space for the outputs in {where}: they need up to "
                f"{total / 2**20:.1f} MiB (uncompressed estimate) and {free / 2**20:.1f} MiB "
                "is free; free some space, choose another folder or fewer samples")


def output_needs(outs: FillOutputs, width: int, height: int, count: int, dtype: np.dtype,
                 n_samples: int) -> dict[Path, int]:
    """Bytes each output folder receives (uncompressed estimate)."""
    one = int(width) * int(height) * int(count)
    need: dict[Path, int] = {}
    for folder, n in ((outs.samples_dir, one * np.dtype(dtype).itemsize * n_samples),
                      (outs.filled.parent, one * np.dtype(dtype).itemsize),
                      (outs.spread.parent, one * 4)):
        need[folder] = need.get(folder, 0) + n
    return need


def _written_sample(path: Path, k: int) -> bool:
    """``path`` is sample ``k`` of an earlier run of this tool (by its tags)."""
    try:
        with rasterio.open(path) as ds:
            tags = ds.tags()
    except RasterioError:
        return False
    return tags.get("COPGEN_PRODUCT") == "sample" and tags.get("COPGEN_SAMPLE") == str(k)


def stale_samples(outs: FillOutputs, n_samples: int) -> tuple[list[Path], list[Path]]:
    """(samples beyond N written by this tool, files named like one that it did not write)."""
    ours: list[Path] = []
    foreign: list[Path] = []
    if not outs.samples_dir.is_dir():
        return ours, foreign
    for p in sorted(outs.samples_dir.glob("sample_*.tif")):
        m = _SAMPLE.match(p.stem)
        if m is None or int(m["k"]) <= n_samples or not p.is_file():
            continue
        (ours if _written_sample(p, int(m["k"])) else foreign).append(p)
    return ours, foreign


def remove_stale_samples(paths: list[Path]) -> list[Path]:
    """Remove the stale samples (after the new set was published); the removed paths."""
    removed = []
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed
