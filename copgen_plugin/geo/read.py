"""Reading layers for one footprint: each modality onto its native grid, and the target window.

* ``read_modality``: any CRS and resolution in, a ``size_px`` square at ``pixel_size_m`` on
  the footprint's square in the working CRS out (the warp itself is ``warp``'s), float32
  with a validity mask.
* ``read_target_window``: the target's own grid, no resampling, source dtype, per-band
  validity (nodata, GDAL masks, NaN) and an optional gap-mask raster on any grid.
* ``GapReader``: the same gap definition for planning, strip by strip.

A layer GDAL cannot read (truncated tiles under an intact header, a VRT whose source is gone)
fails every reader here with an ``InputError`` that names the layer (``names_the_layer``).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from ..errors import InputError
from .footprints import Footprint, window_slices
from .grid import RasterGrid, grid_offset
from .grid import pixel_size_m as grid_pixel_size_m
from .warp import PAD_PX, NativeRead, ResamplingName, warp_to_footprint

_log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def names_the_layer(read: Callable[P, R]) -> Callable[P, R]:
    """GDAL's read errors of ``read`` (first argument: the layer's path, or an object with a
    ``path``) -> an ``InputError`` naming the layer and what to do."""

    @functools.wraps(read)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except RasterioError as exc:
            first = args[0] if args else "?"
            path = Path(str(getattr(first, "path", first)))
            detail = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
            raise InputError(f"layer {path.name} cannot be read ({detail}); the file is damaged "
                             "or incomplete (truncated download, a VRT whose source is gone): "
                             f"check it with gdalinfo -checksum {path}") from exc

    return wrapper

def _band_list(bands: Sequence[int], count: int, name: str) -> list[int]:
    out = [int(b) for b in bands]
    if not out:
        raise ValueError("no bands requested")
    bad = [b for b in out if not 1 <= b <= count]
    if bad:
        raise ValueError(f"{name} has {count} band(s); band index(es) {bad} do not exist (1-based)")
    return out


def fits_dtype(value: float, dtype: np.dtype) -> bool:
    """Whether ``value`` is exactly representable in ``dtype`` (NaN only in floats)."""
    if np.issubdtype(dtype, np.floating):
        return True
    if math.isnan(value) or value != int(value):
        return False
    info = np.iinfo(dtype)
    return info.min <= value <= info.max


def _valid_from_values(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Per-band validity (C, h, w) from values: not equal to ``nodata``, finite for floats."""
    ok = np.ones(data.shape, dtype=bool)
    if nodata is not None:
        ok &= ~np.isnan(data) if math.isnan(nodata) else data != nodata
    if np.issubdtype(data.dtype, np.floating):
        ok &= np.isfinite(data)
    return ok


def _read_valid(src: DatasetReader, bands: list[int], window: Window,
                nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Values (C, h, w) in the source dtype and per-band validity for a window inside ``src``:
    the ``nodata`` override when given, else GDAL's masks (nodata, mask band, alpha)."""
    data = src.read(bands, window=window)
    if nodata is None:
        ok = src.read_masks(bands, window=window) != 0
        if np.issubdtype(data.dtype, np.floating):
            ok &= np.isfinite(data)
    else:
        ok = _valid_from_values(data, nodata)
    return data, ok


def _source_window(src: DatasetReader, crs: CRS, bounds: tuple[float, float, float, float],
                   margin_m: float) -> Window | None:
    """The window of ``src`` that covers ``bounds`` (in ``crs``) plus a margin, clipped."""
    grid = RasterGrid.from_dataset(src)
    left, bottom, right, top = bounds
    sb = transform_bounds(crs, src.crs, left - margin_m, bottom - margin_m, right + margin_m,
                          top + margin_m, densify_pts=21)
    t = src.transform
    c0 = math.floor((sb[0] - t.c) / t.a)
    c1 = math.ceil((sb[2] - t.c) / t.a)
    r0 = math.floor((sb[3] - t.f) / t.e)
    r1 = math.ceil((sb[1] - t.f) / t.e)
    return grid.clip(Window(c0, r0, c1 - c0, r1 - r0))


@names_the_layer
def read_modality(
    path: str | Path,
    bands: Sequence[int],
    footprint: Footprint,
    *,
    pixel_size_m: float,
    resampling: ResamplingName,
    size_px: int | None = None,
    src_nodata: float | None = None,
    value_transform: Callable[[np.ndarray], np.ndarray] | None = None,
    min_valid_fraction: float = 0.5,
) -> NativeRead:
    """Read ``bands`` (1-based, in the order wanted) of a layer onto the footprint's native grid.

    ``src_nodata`` overrides the file's nodata/masks. ``value_transform`` maps source values
    (float32) before resampling, e.g. dB to linear power so that S1 is averaged in power.
    Pixels outside the layer are invalid.
    """
    with rasterio.open(path) as src:
        bl = _band_list(bands, src.count, str(path))
        src_grid = RasterGrid.from_dataset(src)
        margin = 4.0 * max(pixel_size_m, *grid_pixel_size_m(src_grid))
        win = _source_window(src, footprint.crs, footprint.bounds, margin)
        if win is None:
            n = footprint.native_size(pixel_size_m) if size_px is None else int(size_px)
            _log.debug("%s does not meet footprint %d", path, footprint.index)
            return NativeRead(
                data=np.full((len(bl), n, n), np.nan, dtype=np.float32),
                valid=np.zeros((n, n), dtype=bool),
                transform=footprint.native_transform(pixel_size_m), crs=footprint.crs,
            )
        data, ok = _read_valid(src, bl, win, src_nodata)
        src_t = src_grid.window_transform(win)
        src_crs = src.crs
    values = data.astype(np.float32)
    if value_transform is not None:
        values = np.asarray(value_transform(values), dtype=np.float32)
    return warp_to_footprint(
        values, ok.all(axis=0), src_crs=src_crs, src_transform=src_t, footprint=footprint,
        pixel_size_m=pixel_size_m, resampling=resampling, size_px=size_px,
        min_valid_fraction=min_valid_fraction,
    )


@dataclass(frozen=True)
class TargetWindow:
    """The target on one window of its own grid, bit-exact.

    ``data`` (C, h, w) in the file's dtype (outside the raster: the nodata value, else 0);
    ``valid`` (C, h, w) per band observed; ``inside`` (h, w) pixels inside the raster.
    """

    window: Window
    data: np.ndarray
    valid: np.ndarray
    inside: np.ndarray

    @property
    def observed(self) -> np.ndarray:
        """(h, w): every band observed."""
        return self.valid.all(axis=0)

    @property
    def gap(self) -> np.ndarray:
        """(h, w): pixels inside the raster with at least one band to fill."""
        return self.gap_of(())

    def gap_of(self, bands: Sequence[int]) -> np.ndarray:
        """(h, w): the gap definition (one home): pixels inside the raster where any of
        ``bands`` (1-based; all when empty) is invalid (nodata, GDAL mask, NaN, mask layer)."""
        valid = self.valid[[b - 1 for b in bands]] if bands else self.valid
        return self.inside & ~valid.all(axis=0)


@names_the_layer
def _mask_gap(mask_path: str | Path, mask_band: int, grid: RasterGrid, window: Window
              ) -> np.ndarray:
    """Gap flags (h, w) from a mask raster (non-zero = gap) on ``window`` of ``grid``.

    Same grid: read directly; other grid: nearest resampling. Mask nodata and pixels outside
    the mask raster say nothing (not gap).
    """
    h, w = int(window.height), int(window.width)
    out = np.zeros((h, w), dtype=bool)
    dst_t = grid.window_transform(window)
    with rasterio.open(mask_path) as m:
        _band_list([mask_band], m.count, str(mask_path))
        mgrid = RasterGrid.from_dataset(m)
        off = grid_offset(m.transform, dst_t) if m.crs == grid.crs else None
        if off is not None:
            want = Window(off[1], off[0], w, h)
            inter = mgrid.clip(want)
            if inter is not None:
                vals, ok = _read_valid(m, [mask_band], inter, None)
                out[window_slices(inter, want)] = (vals[0] != 0) & ok[0]
            return out
        left, top = dst_t.c, dst_t.f
        bounds = (left, top + h * dst_t.e, left + w * dst_t.a, top)
        win = _source_window(m, grid.crs, bounds, 2.0 * max(grid_pixel_size_m(mgrid)))
        if win is None:
            return out
        vals, ok = _read_valid(m, [mask_band], win, None)
        flag = ((vals[0] != 0) & ok[0]).astype(np.uint8)
        src_t = mgrid.window_transform(win)
        flag = np.pad(flag, PAD_PX)
        src_t = src_t @ Affine.translation(-PAD_PX, -PAD_PX)
        dst = np.zeros((h, w), dtype=np.uint8)
        reproject(flag, dst, src_transform=src_t, src_crs=m.crs, dst_transform=dst_t,
                  dst_crs=grid.crs, resampling=Resampling.nearest, init_dest_nodata=False,
                  tolerance=0.0)
    return dst != 0


@names_the_layer
def read_target_window(
    path: str | Path,
    bands: Sequence[int],
    window: Window,
    *,
    nodata: float | None = None,
    mask_path: str | Path | None = None,
    mask_band: int = 1,
) -> TargetWindow:
    """Read ``bands`` of the target on ``window`` (may extend beyond the raster) without
    resampling. A pixel is a gap where any band is invalid (``nodata`` override, else the
    file's masks; NaN) or where the mask raster is non-zero."""
    with rasterio.open(path) as src:
        bl = _band_list(bands, src.count, str(path))
        grid = RasterGrid.from_dataset(src)
        fill_value = nodata if nodata is not None else src.nodata
        h, w = int(window.height), int(window.width)
        dtype = np.dtype(src.dtypes[bl[0] - 1])
        fill = fill_value if fill_value is not None and fits_dtype(fill_value, dtype) else 0
        data = np.full((len(bl), h, w), fill, dtype=dtype)
        valid = np.zeros((len(bl), h, w), dtype=bool)
        inside = np.zeros((h, w), dtype=bool)
        inter = grid.clip(window)
        if inter is not None:
            sl = window_slices(inter, window)
            d, ok = _read_valid(src, bl, inter, nodata)
            data[(slice(None), *sl)] = d
            valid[(slice(None), *sl)] = ok
            inside[sl] = True
    if mask_path is not None:
        valid[:, _mask_gap(mask_path, mask_band, grid, window)] = False
    return TargetWindow(window=window, data=data, valid=valid, inside=inside)


@dataclass(frozen=True)
class GapReader:
    """Gap mask of windows of the target, with ``read_target_window``'s definition, reading
    one band at a time so planning memory stays at one strip of one band."""

    path: Path
    bands: tuple[int, ...]
    nodata: float | None = None
    mask_path: Path | None = None
    mask_band: int = 1

    @names_the_layer
    def __call__(self, window: Window) -> np.ndarray:
        h, w = int(window.height), int(window.width)
        gap = np.zeros((h, w), dtype=bool)
        with rasterio.open(self.path) as src:
            bl = _band_list(self.bands, src.count, str(self.path))
            grid = RasterGrid.from_dataset(src)
            inter = grid.clip(window)
            if inter is not None:
                sl = window_slices(inter, window)
                for b in bl:
                    _, ok = _read_valid(src, [b], inter, self.nodata)
                    gap[sl] |= ~ok[0]
        if self.mask_path is not None:
            gap |= _mask_gap(self.mask_path, self.mask_band, grid, window)
        return gap

    @names_the_layer
    def strip_rows(self, minimum: int = 256) -> int:
        """A strip height that is a whole number of the file's block rows (>= ``minimum``)."""
        with rasterio.open(self.path) as src:
            bh = src.block_shapes[0][0]
        return max(1, math.ceil(minimum / bh)) * bh
