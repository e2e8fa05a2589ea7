"""Putting a generated footprint back onto the target's own grid.

The generator works on each modality's native grid in the working CRS; outputs must land on
the target's grid. When the native grid coincides with the target grid (a 10 m target in a
metric CRS and the 10 m group) this is an exact crop; otherwise it is a GDAL reprojection.
Which target pixels a footprint writes is ``Footprint.coverage`` (pixel centres inside the
square), never "whatever the warp happened to touch", so coverage, seams and planning agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.warp import reproject
from rasterio.windows import Window

from .footprints import Footprint
from .grid import RasterGrid, grid_offset
from .read import ResamplingName, resampling_method

_log = logging.getLogger(__name__)
_PAD = 3


@dataclass(frozen=True)
class TargetPatch:
    """Generated values on ``window`` of the target grid: ``data`` float32 (C, h, w), NaN
    where not ``covered`` (h, w) by the footprint."""

    window: Window
    data: np.ndarray
    covered: np.ndarray


def default_resampling(*, from_m: float, to_m: float, categorical: bool) -> ResamplingName:
    """Honest defaults: classes keep codes (mode when aggregating, else nearest); continuous
    data is area-averaged when aggregating and bilinear otherwise."""
    coarser = to_m > from_m * (1.0 + 1e-9)
    if categorical:
        return "mode" if coarser else "nearest"
    return "average" if coarser else "bilinear"


def to_target_grid(
    array: np.ndarray,
    footprint: Footprint,
    grid: RasterGrid,
    *,
    pixel_size_m: float,
    resampling: ResamplingName,
    window: Window | None = None,
) -> TargetPatch:
    """Resample ``array`` (C, n, n) on the footprint's ``pixel_size_m`` native grid onto
    ``window`` of the target grid (default: the footprint's window)."""
    if array.ndim != 3:
        raise ValueError(f"expected (C, h, w), got shape {array.shape}")
    w = footprint.window if window is None else window
    h, wd = int(w.height), int(w.width)
    c = array.shape[0]
    src_t = footprint.native_transform(pixel_size_m)
    dst_t = grid.window_transform(w)
    covered = footprint.coverage(grid, w)
    src = array.astype(np.float32, copy=False)

    off = grid_offset(dst_t, src_t) if footprint.crs == grid.crs else None
    out = np.full((c, h, wd), np.nan, dtype=np.float32)
    if off is not None:
        # Native grid = target grid: exact crop. off is the native origin on the window's grid.
        r, col = off
        r0, c0 = max(r, 0), max(col, 0)
        r1, c1 = min(r + src.shape[1], h), min(col + src.shape[2], wd)
        if r1 > r0 and c1 > c0:
            out[:, r0:r1, c0:c1] = src[:, r0 - r:r1 - r, c0 - col:c1 - col]
    else:
        # Edge-replicated border: a target pixel whose centre is inside the square but within
        # a few cm of its edge (GDAL's and PROJ's transforms differ at that level) still gets
        # the edge value instead of nothing.
        padded = np.pad(src, ((0, 0), (_PAD, _PAD), (_PAD, _PAD)), mode="edge")
        pt = src_t @ Affine.translation(-_PAD, -_PAD)
        reproject(padded, out, src_transform=pt, src_crs=footprint.crs, src_nodata=np.nan,
                  dst_transform=dst_t, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=resampling_method(resampling), tolerance=0.0)
    covered &= np.isfinite(out).all(axis=0)
    out[:, ~covered] = np.nan
    return TargetPatch(window=w, data=out, covered=covered)
