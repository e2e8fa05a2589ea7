"""Both warp directions between a layer's grid and a footprint's native grids, and the
resampling choice (one home for all three).

* ``warp_to_footprint``: an array (C, h, w) with validity (h, w) on any grid -> a ``size_px``
  square at ``pixel_size_m`` on the footprint's square in the working CRS, float32 with a
  validity mask. Grids that coincide are cropped exactly (no resampling, bit-exact values);
  others are resampled with GDAL (bilinear/cubic kernels widen when downsampling), nodata
  excluded from the kernels. A native pixel is valid when at least ``min_valid_fraction`` of
  its area is covered by valid source pixels.
* ``to_target_grid``: a generated footprint back onto the target's own grid. When the native
  grid coincides with the target grid (a 10 m target in a metric CRS and the 10 m group) this
  is an exact crop; otherwise a GDAL reprojection. Which target pixels a footprint writes is
  ``Footprint.coverage`` (pixel centres inside the square), never "whatever the warp
  happened to touch", so coverage, seams and planning agree.
* ``default_resampling``: the honest default for a pair of pixel sizes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

from .footprints import Footprint
from .grid import RasterGrid, grid_offset

_log = logging.getLogger(__name__)

ResamplingName = Literal["nearest", "bilinear", "cubic", "average", "mode"]
_RESAMPLING: dict[str, Resampling] = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "cubic": Resampling.cubic,
    "average": Resampling.average,
    "mode": Resampling.mode,
}
# GDAL clamps kernels at the source edge, so target pixels just outside the source would
# copy edge values; a border of invalid pixels around every source array prevents that.
PAD_PX = 3
# Every reproject uses GDAL's exact transformer (tolerance=0): the default approximation allows
# 0.125 source pixels of positional error, visible on a 192 px footprint and needless at its size.


def resampling_method(name: str) -> Resampling:
    """GDAL resampling for a name; continuous data: bilinear/cubic/average, classes:
    nearest/mode."""
    try:
        return _RESAMPLING[name]
    except KeyError:
        raise ValueError(f"unknown resampling {name!r}; use one of {sorted(_RESAMPLING)}") from None


@dataclass(frozen=True)
class NativeRead:
    """A modality on one footprint's native grid: ``data`` float32 (C, H, W), NaN where not
    ``valid`` (H, W); ``transform``/``crs`` georeference it."""

    data: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS


def pad_invalid(data: np.ndarray, valid: np.ndarray, transform: Affine
         ) -> tuple[np.ndarray, np.ndarray, Affine]:
    data = np.pad(data, ((0, 0), (PAD_PX, PAD_PX), (PAD_PX, PAD_PX)), constant_values=np.nan)
    valid = np.pad(valid, PAD_PX, constant_values=False)
    return data, valid, transform @ Affine.translation(-PAD_PX, -PAD_PX)


def warp_to_footprint(
    data: np.ndarray,
    valid: np.ndarray,
    *,
    src_crs: CRS,
    src_transform: Affine,
    footprint: Footprint,
    pixel_size_m: float,
    resampling: ResamplingName,
    size_px: int | None = None,
    min_valid_fraction: float = 0.5,
) -> NativeRead:
    """Put an in-memory array (C, h, w) with validity (h, w) onto the footprint's native grid.

    Also used for composites built in memory (observed target + overlap generated earlier),
    so the same resampling rules apply to files and to composites.
    """
    if data.ndim != 3 or valid.shape != data.shape[1:]:
        raise ValueError(
            f"expected data (C, h, w) and valid (h, w), got {data.shape}, {valid.shape}")
    if not 0.0 <= min_valid_fraction <= 1.0:
        raise ValueError(f"min_valid_fraction must be in [0, 1], got {min_valid_fraction}")
    n = footprint.native_size(pixel_size_m) if size_px is None else int(size_px)
    dst_t = footprint.native_transform(pixel_size_m)
    c = data.shape[0]
    src = data.astype(np.float32, copy=True)
    ok = valid & np.isfinite(src).all(axis=0)
    src[:, ~ok] = np.nan

    off = grid_offset(src_transform, dst_t) if src_crs == footprint.crs else None
    if off is not None:
        # Same grid: an exact crop, values untouched.
        out = np.full((c, n, n), np.nan, dtype=np.float32)
        out_ok = np.zeros((n, n), dtype=bool)
        r, col = off
        r0, c0 = max(r, 0), max(col, 0)
        r1, c1 = min(r + n, src.shape[1]), min(col + n, src.shape[2])
        if r1 > r0 and c1 > c0:
            out[:, r0 - r:r1 - r, c0 - col:c1 - col] = src[:, r0:r1, c0:c1]
            out_ok[r0 - r:r1 - r, c0 - col:c1 - col] = ok[r0:r1, c0:c1]
        return NativeRead(data=out, valid=out_ok, transform=dst_t, crs=footprint.crs)

    src, ok, src_t = pad_invalid(src, ok, src_transform)
    out = np.full((c, n, n), np.nan, dtype=np.float32)
    reproject(src, out, src_transform=src_t, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=dst_t, dst_crs=footprint.crs, dst_nodata=np.nan,
              resampling=resampling_method(resampling), tolerance=0.0)
    frac = np.zeros((n, n), dtype=np.float32)
    reproject(ok.astype(np.float32), frac, src_transform=src_t, src_crs=src_crs,
              dst_transform=dst_t, dst_crs=footprint.crs, resampling=Resampling.average,
              init_dest_nodata=False, tolerance=0.0)
    out_ok = (frac >= min_valid_fraction - 1e-6) & (frac > 0) & np.isfinite(out).all(axis=0)
    out[:, ~out_ok] = np.nan
    return NativeRead(data=out, valid=out_ok, transform=dst_t, crs=footprint.crs)


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
        # Edge-replicated border (the same PAD_PX as the reads' invalid border): a target pixel
        # whose centre is inside the square but within
        # a few cm of its edge (GDAL's and PROJ's transforms differ at that level) still gets
        # the edge value instead of nothing.
        padded = np.pad(src, ((0, 0), (PAD_PX, PAD_PX), (PAD_PX, PAD_PX)), mode="edge")
        pt = src_t @ Affine.translation(-PAD_PX, -PAD_PX)
        reproject(padded, out, src_transform=pt, src_crs=footprint.crs, src_nodata=np.nan,
                  dst_transform=dst_t, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=resampling_method(resampling), tolerance=0.0)
    covered &= np.isfinite(out).all(axis=0)
    out[:, ~covered] = np.nan
    return TargetPatch(window=w, data=out, covered=covered)
