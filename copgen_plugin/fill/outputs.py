"""The output set of one run: N sample rasters, the filled raster and the spread raster.

All live in one ``geo.OutputSet`` (partial files, renamed together when complete, removed on
error or cancel). Samples and filled start as a bit-exact copy of the target (gapfill); only
gap pixels are written afterwards. Filled and spread are computed from the sample values *as
written* (after the cast to the output type), so ``filled`` is the rounded mean (or the mode,
for classes) of the sample files and ``spread`` their statistic, pixel for pixel.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from ..engine.spread import sample_statistics
from ..errors import InputError
from ..geo import (
    GeoTiffWriter,
    OutputSet,
    RasterGrid,
    read_target_window,
    to_output_dtype,
)
from .inputs import SPREAD_NODATA, TargetSetup
from .options import SPREAD_TEXT
from .report import WriteStats
from .request import FillOutputs

_log = logging.getLogger(__name__)


@dataclass
class FillWriters:
    samples: list[GeoTiffWriter]
    filled: GeoTiffWriter
    spread: GeoTiffWriter


def open_writers(outs: OutputSet, target: TargetSetup, dests: FillOutputs, *, n_samples: int,
                 statistic: str, tags: Mapping[str, str]) -> FillWriters:
    """Open every output on the target grid with its dtype, nodata, descriptions and tags."""
    grid = target.grid
    base = dict(target.tags) if target.mode == "gapfill" else {}
    base.update(tags)
    samples = []
    for k in range(1, n_samples + 1):
        samples.append(outs.add(
            dests.sample(k), grid, count=target.count, dtype=target.dtype,
            nodata=target.nodata, descriptions=list(target.descriptions),
            tags={**base, "COPGEN_PRODUCT": "sample", "COPGEN_SAMPLE": str(k)}))
    what = "mode of the samples" if target.categorical else "mean of the samples"
    filled_w = outs.add(dests.filled, grid, count=target.count, dtype=target.dtype,
                        nodata=target.nodata, descriptions=list(target.descriptions),
                        tags={**base, "COPGEN_PRODUCT": "filled", "COPGEN_FILLED": what})
    stat = ("share of samples disagreeing with the mode" if target.categorical
            else SPREAD_TEXT[statistic])
    spread_w = outs.add(
        dests.spread, grid, count=target.count, dtype="float32", nodata=SPREAD_NODATA,
        descriptions=[f"{d} {stat} over {n_samples} samples" for d in target.descriptions],
        tags={**tags, "COPGEN_PRODUCT": "spread", "COPGEN_SPREAD_STATISTIC": stat})
    return FillWriters(samples, filled_w, spread_w)


def choose_nodata(target: TargetSetup) -> float:
    """A nodata value for outputs of a layer that has none, needed only when some gap pixels
    stay unfilled (bands the model cannot generate): NaN for floats, else the type's extreme
    that no pixel of the layer holds (found by a streamed scan)."""
    if np.issubdtype(target.dtype, np.floating):
        return math.nan
    info = np.iinfo(target.dtype)
    candidates = [float(info.min), float(info.max)] if info.min < 0 else [float(info.max),
                                                                          float(info.min)]
    present = set()
    grid = target.grid
    for r0 in range(0, grid.height, 256):
        win = Window(0, r0, grid.width, min(256, grid.height - r0))
        tw = read_target_window(target.path, list(range(1, target.count + 1)), win)
        present |= {c for c in candidates if (tw.data == c).any()}
        if len(present) == len(candidates):
            break
    for c in candidates:
        if c not in present:
            return c
    raise InputError(f"{target.path.name} has no nodata value and holds both {candidates}; "
                     "set the layer's nodata so unfilled gap pixels can be marked")


def copy_observed(writers: FillWriters, target: TargetSetup, *, mask: Path | None,
                  cancel: Callable[[], bool], progress: Callable[[float], None],
                  chunk_rows: int = 256, chunk_cols: int = 4096) -> None:
    """Initialise samples and filled with the target, bit for bit; gap pixels of bands the
    model cannot generate are set to nodata there (they are never written again). Stops
    early (and leaves the raising to the caller) when ``cancel()`` turns true."""
    grid = target.grid
    bands = list(range(1, target.count + 1))
    ungen = [b - 1 for b in target.ungenerated]
    for r0 in range(0, grid.height, chunk_rows):
        if cancel():
            return
        progress(r0 / grid.height)
        for c0 in range(0, grid.width, chunk_cols):
            win = Window(c0, r0, min(chunk_cols, grid.width - c0),
                         min(chunk_rows, grid.height - r0))
            tw = read_target_window(target.path, bands, win, nodata=target.nodata_override,
                                    mask_path=mask)
            data = tw.data
            if ungen:
                gap = tw.gap_of(target.gap_bands)
                if gap.any():
                    data = data.copy()
                    for b in ungen:
                        data[b][gap] = target.nodata  # type: ignore[call-overload]
            for w in (*writers.samples, writers.filled):
                w.write_window(data, win)


def cast_samples(target: TargetSetup, stack: np.ndarray) -> np.ndarray:
    """Generated float values (N, C, h, w) -> the output type; classes keep their code (a
    generated code equal to nodata stays nodata: it is the model's "no data" class). Pixels a
    footprint does not cover are NaN; they are never written, so any value does there."""
    stack = np.where(np.isfinite(stack), stack, np.float32(0))
    if target.categorical:
        info = np.iinfo(target.dtype)
        return np.clip(np.rint(stack), info.min, info.max).astype(target.dtype)
    return to_output_dtype(stack, target.dtype, target.nodata)


def ensemble(target: TargetSetup, written: np.ndarray, statistic: str
             ) -> tuple[np.ndarray, np.ndarray]:
    """(filled in the output type, spread float32) from the written samples (N, C, h, w)."""
    centre, spread = sample_statistics(written, statistic=statistic,
                                       categorical=target.categorical)
    if target.categorical:
        return centre.astype(target.dtype), spread
    return to_output_dtype(centre, target.dtype, target.nodata), spread


def write_footprint(writers: FillWriters, target: TargetSetup, window: Window,
                    samples: np.ndarray, write: np.ndarray, statistic: str,
                    stats: WriteStats, new: np.ndarray | None = None) -> None:
    """Write generated bands (N, C_gen, h, w) where ``write`` (h, w) is True (gap pixels
    inside the raster); ``new``: those not written by an earlier footprint (default: all)."""
    if not write.any():
        return
    bands = list(target.generated)
    counts_classes = target.categorical and target.nodata is not None
    rewritten = np.zeros_like(write) if new is None else write & ~new
    if counts_classes and rewritten.any():
        # the footprint that wrote these pixels first counted them: uncount them
        before = writers.filled.read_window(window, bands=bands)
        stats.nodata_class -= int(((before == target.nodata).any(axis=0) & rewritten).sum())
    written = cast_samples(target, samples)
    for w, s in zip(writers.samples, written, strict=True):
        w.write_window(s, window, mask=write, bands=bands)
    filled, spread = ensemble(target, written, statistic)
    writers.filled.write_window(filled, window, mask=write, bands=bands)
    writers.spread.write_window(spread, window, mask=write, bands=bands)
    stats.pixels += int((write & ~rewritten).sum())
    if counts_classes:
        stats.nodata_class += int(((filled == target.nodata).any(axis=0) & write).sum())


def inside_mask(grid: RasterGrid, window: Window) -> np.ndarray:
    """(h, w) True at pixels of ``window`` inside the raster."""
    out = np.zeros((int(window.height), int(window.width)), dtype=bool)
    inter = grid.clip(window)
    if inter is not None:
        r = int(inter.row_off - window.row_off)
        c = int(inter.col_off - window.col_off)
        out[r:r + int(inter.height), c:c + int(inter.width)] = True
    return out
