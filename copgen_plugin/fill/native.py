"""A product's filled raster and samples also at the native 20 and 60 m of their bands.

The fill writes every output on the product's 10 m grid with all its bands, the 20 and 60 m
bands repeated onto it (clear pixels) or generated and resampled onto it (gap pixels). Beside
each such output this writes ``<stem>_20m.tif`` and ``<stem>_60m.tif`` holding the bands of that
resolution on their own grid: the mean of each 2 x 2 (6 x 6) block of 10 m pixels, which is the
product's own value, bit for bit, wherever the block was clear. All files or none.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from ..geo.grid import RasterGrid
from ..geo.s2product import S2Product
from ..geo.write import OutputSet

_log = logging.getLogger(__name__)

STRIP_BLOCKS = 128


def _block_mean(a: np.ndarray, f: int, nodata: float | None) -> np.ndarray:
    """(C, h*f, w*f) -> (C, h, w) block means over valid pixels (all nodata -> nodata)."""
    c, hh, ww = a.shape
    x = a.astype(np.float64).reshape(c, hh // f, f, ww // f, f)
    ok = np.ones_like(x, dtype=bool) if nodata is None else x != nodata
    n = ok.sum(axis=(2, 4))
    s = np.where(ok, x, 0.0).sum(axis=(2, 4))
    mean = s / np.maximum(n, 1)
    if nodata is not None:
        mean[n == 0] = nodata
    return mean


def write_native(product: S2Product, outputs: list[Path]) -> list[Path]:
    """``<stem>_<res>m.tif`` beside each 10 m output, for each coarser resolution it has."""
    ten = product.grid_band.pixel_m
    by_res: dict[float, list[str]] = {}
    for name, band in product.bands.items():
        if band.pixel_m > ten + 1e-6:
            by_res.setdefault(band.pixel_m, []).append(name)
    if not by_res or not outputs:
        return []
    written: list[Path] = []
    with OutputSet() as out_set:
        jobs = []
        for path in outputs:
            with rasterio.open(path) as src:
                desc, dtype, nodata, tags = src.descriptions, src.dtypes[0], src.nodata, src.tags()
            for res, names in sorted(by_res.items()):
                ref = product.bands[names[0]]
                grid = RasterGrid(ref.crs, ref.transform, ref.width, ref.height)
                order = [n for n in desc if n in names]
                dest = path.with_name(f"{path.stem}_{res:g}m{path.suffix}")
                w = out_set.add(dest, grid, count=len(order), dtype=dtype, nodata=nodata,
                                descriptions=order, tags=tags)
                jobs.append((path, w, [desc.index(n) + 1 for n in order], round(res / ten),
                             grid))
                written.append(dest)
        for path, w, bands, f, grid in jobs:
            with rasterio.open(path) as src:
                for r0 in range(0, grid.height, STRIP_BLOCKS):
                    rows = min(STRIP_BLOCKS, grid.height - r0)
                    a = np.full((len(bands), rows * f, grid.width * f), src.nodata or 0,
                                dtype=src.dtypes[0])
                    h = max(0, min(rows * f, src.height - r0 * f))
                    w_ = min(grid.width * f, src.width)
                    if h:
                        a[:, :h, :w_] = src.read(bands, window=Window(0, r0 * f, w_, h))
                    mean = _block_mean(a, f, src.nodata)
                    if np.issubdtype(np.dtype(w.dtype), np.integer):
                        info = np.iinfo(w.dtype)
                        mean = np.clip(np.round(mean), info.min, info.max)
                    w.write_window(mean.astype(w.dtype), Window(0, r0, grid.width, rows))
    _log.info("native-resolution outputs: %s", ", ".join(p.name for p in written))
    return written
