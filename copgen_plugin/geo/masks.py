"""Gap masks from what the analyst has: an SCL, a cloud-probability layer, a detector's classes.

Each cause is put on the target's grid without smearing: class layers (SCL, detector) carry
their codes by nearest neighbour and are turned into flags only on the target grid, a
probability layer is thresholded after a nearest-neighbour placement, so no class or value is
ever averaged with its neighbour. The cloud causes are ORed, grown by a buffer in metres (a
disk, not a square), and ORed with the mask layer into one uint8 raster on the target grid
(1 = gap) that the fill reads like any mask layer; nodata stays the fill's own business and is
only counted here. The work goes strip by strip, so memory is one strip plus its buffer halo.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from .footprints import window_slices
from .grid import RasterGrid, grid_offset, pixel_size_m
from .read import GapReader, _mask_gap, _source_window

_log = logging.getLogger(__name__)

#: detector class codes (ukis-csmask): 0 clear, 1 cloud, 2 cloud shadow
DETECTOR_CLASSES = {1: "clouds", 2: "cloud shadows"}
STRIP_ROWS = 512


@dataclass(frozen=True)
class ClassLayer:
    """A class raster and the codes that are gaps, with a name per code for the report."""

    path: Path
    codes: tuple[int, ...]
    names: dict[int, str]
    label: str
    what: str = "class layer"


@dataclass(frozen=True)
class ProbabilityLayer:
    """A cloud-probability raster; ``threshold`` on the 0-1 scale."""

    path: Path
    threshold: float


@dataclass
class MaskSummary:
    """Gap pixels by cause over the target (a pixel may have several causes); ``buffer`` counts
    only the pixels the buffer added; ``total`` is the union, nodata included."""

    pixels: int
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    scale_notes: list[str] = field(default_factory=list)

    def fractions(self) -> dict[str, float]:
        out = {k: v / self.pixels for k, v in self.counts.items()}
        out["total"] = self.total / self.pixels
        return out


def check_covers(path: Path, grid: RasterGrid, what: str, *, min_fraction: float = 0.99
                 ) -> None:
    """A mask source must cover the target: raise ValueError naming it otherwise."""
    with rasterio.open(path) as ds:
        if ds.crs is None:
            raise ValueError(f"{what} {path.name} has no CRS, so it cannot be placed on the "
                             "target; assign one")
        other = RasterGrid.from_dataset(ds)
    try:
        left, bottom, right, top = transform_bounds(other.crs, grid.crs, *other.bounds,
                                                    densify_pts=21)
    except Exception:  # an impossible transform: disjoint
        left = bottom = right = top = math.nan
    gl, gb, gr, gt = grid.bounds
    w = max(0.0, min(right, gr) - max(left, gl)) if math.isfinite(left) else 0.0
    h = max(0.0, min(top, gt) - max(bottom, gb)) if math.isfinite(left) else 0.0
    share = (w * h) / ((gr - gl) * (gt - gb))
    if share <= 0.0:
        raise ValueError(f"{what} {path.name} does not overlap the target layer "
                         f"({other.crs.to_string()} bounds "
                         f"{tuple(round(v, 1) for v in other.bounds)}); give the layer of the "
                         "same scene")
    if share < min_fraction:
        raise ValueError(f"{what} {path.name} ({other.width} x {other.height} px) covers only "
                         f"{100 * share:.0f} % of the target layer ({grid.width} x "
                         f"{grid.height} px); give a layer of the target's extent")


def values_on(path: Path, grid: RasterGrid, window: Window, *, fill: float = 0.0,
              dtype: str = "float32") -> np.ndarray:
    """Band 1 of ``path`` on ``window`` of ``grid`` by nearest neighbour (never blended);
    ``fill`` outside the layer and on its nodata."""
    h, w = int(window.height), int(window.width)
    dst_t = grid.window_transform(window)
    out = np.full((h, w), fill, dtype=dtype)
    with rasterio.open(path) as src:
        nodata = src.nodata
        off = grid_offset(src.transform, dst_t) if src.crs == grid.crs else None
        if off is not None:
            sgrid = RasterGrid.from_dataset(src)
            want = Window(off[1], off[0], w, h)
            inter = sgrid.clip(want)
            if inter is not None:
                v = src.read(1, window=inter).astype(dtype)
                ok = src.read_masks(1, window=inter) != 0
                out[window_slices(inter, want)] = np.where(ok, v, fill)
            return out
        left, top = dst_t.c, dst_t.f
        bounds = (left, top + h * dst_t.e, left + w * dst_t.a, top)
        sgrid = RasterGrid.from_dataset(src)
        swin = _source_window(src, grid.crs, bounds, 2.0 * max(pixel_size_m(sgrid)))
        if swin is None:
            return out
        src_arr = src.read(1, window=swin).astype(dtype)
        if nodata is not None:
            src_arr[src_arr == nodata] = fill
        src_t = sgrid.window_transform(swin)
        reproject(src_arr, out, src_transform=src_t, src_crs=src.crs, src_nodata=None,
                  dst_transform=dst_t, dst_crs=grid.crs, resampling=Resampling.nearest,
                  init_dest_nodata=False, tolerance=0.0)
    return out


def probability_scale(path: Path) -> tuple[float, str]:
    """1.0 for a 0-1 layer, 100.0 for a 0-100 layer (detected from the values, reported)."""
    with rasterio.open(path) as src:
        f = max(1, math.ceil(max(src.width, src.height) / 1024))
        shape = (math.ceil(src.height / f), math.ceil(src.width / f))
        v = src.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
    finite = v.compressed()
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 0.0
    if top > 100.0:
        raise ValueError(f"cloud-probability layer {path.name} holds values up to {top:g}; a "
                         "probability is 0-1 or 0-100")
    if top > 1.0:
        return 100.0, f"{path.name} read as 0-100 (maximum {top:g})"
    return 1.0, f"{path.name} read as 0-1 (maximum {top:g})"


def disk_offsets(radius_px: float) -> list[tuple[int, int]]:
    """The pixel offsets within ``radius_px`` (Euclidean) of a pixel."""
    r = math.floor(radius_px)
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
            if dy * dy + dx * dx <= radius_px * radius_px + 1e-9]


def buffer_disk(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """(H, W) bool grown by a disk of ``radius_px`` pixels (a metric buffer; nothing outside
    the array counts)."""
    if radius_px < 1.0 or not mask.any():
        return mask.copy()
    r = math.floor(radius_px)
    h, w = mask.shape
    padded = np.pad(mask, r)
    out = mask.copy()
    for dy, dx in disk_offsets(radius_px):
        out |= padded[r + dy:r + dy + h, r + dx:r + dx + w]
    return out


def build_gap_mask(
    target: Path,
    bands: Sequence[int],
    out: Path,
    *,
    nodata: float | None = None,
    mask_layer: Path | None = None,
    class_layers: Sequence[ClassLayer] = (),
    probability: ProbabilityLayer | None = None,
    buffer_m: float = 0.0,
    cancel: Callable[[], bool] | None = None,
) -> MaskSummary:
    """Write the combined gap mask of ``target`` to ``out`` (uint8 GeoTIFF, 1 = gap, on the
    target's grid) and count the gap pixels by cause."""
    grid = RasterGrid.from_path(target)
    for layer in class_layers:
        check_covers(layer.path, grid, layer.what)
    scale = 1.0
    summary = MaskSummary(pixels=grid.width * grid.height)
    if probability is not None:
        check_covers(probability.path, grid, "cloud-probability layer")
        scale, note = probability_scale(probability.path)
        summary.scale_notes.append(note)
    if mask_layer is not None:
        check_covers(mask_layer, grid, "mask layer", min_fraction=0.0)
    px = min(pixel_size_m(grid))
    radius = buffer_m / px if buffer_m > 0 else 0.0
    halo = math.ceil(radius)
    buffer_key = f"buffer {buffer_m:g} m"
    keys = ["nodata"] + (["mask layer"] if mask_layer else [])
    for layer in class_layers:
        keys += [f"{layer.label} {c} ({layer.names.get(c, 'class')})" for c in layer.codes]
    if probability is not None:
        keys.append(f"probability >= {probability.threshold:g}")
    if radius >= 1.0:
        keys.append(buffer_key)
    summary.counts = dict.fromkeys(keys, 0)
    gaps = GapReader(target, tuple(bands), nodata=nodata)
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1,
               "dtype": "uint8", "crs": grid.crs, "transform": grid.transform, "nodata": None,
               "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(out, "w", **profile) as dst:
        for r0 in range(0, grid.height, STRIP_ROWS):
            if cancel is not None and cancel():
                raise InterruptedError("cancelled while building the gap mask")
            r1 = min(grid.height, r0 + STRIP_ROWS)
            h0, h1 = max(0, r0 - halo), min(grid.height, r1 + halo)
            win = Window(0, h0, grid.width, h1 - h0)
            inner = slice(r0 - h0, r0 - h0 + (r1 - r0))
            cloud = np.zeros((h1 - h0, grid.width), dtype=bool)
            for layer in class_layers:
                codes = values_on(layer.path, grid, win, fill=-1, dtype="int32")
                for c in layer.codes:
                    hit = codes == c
                    cloud |= hit
                    summary.counts[f"{layer.label} {c} ({layer.names.get(c, 'class')})"] += \
                        int(hit[inner].sum())
            if probability is not None:
                v = values_on(probability.path, grid, win, fill=0.0)
                hit = np.nan_to_num(v) >= probability.threshold * scale
                cloud |= hit
                summary.counts[f"probability >= {probability.threshold:g}"] += \
                    int(hit[inner].sum())
            grown = buffer_disk(cloud, radius)
            if radius >= 1.0:
                summary.counts[buffer_key] += int((grown & ~cloud)[inner].sum())
            gap = grown[inner]
            if mask_layer is not None:
                m = _mask_gap(mask_layer, 1, grid, Window(0, r0, grid.width, r1 - r0))
                summary.counts["mask layer"] += int(m.sum())
                gap = gap | m
            nd = gaps(Window(0, r0, grid.width, r1 - r0))
            summary.counts["nodata"] += int(nd.sum())
            summary.total += int((gap | nd).sum())
            dst.write(gap.astype(np.uint8)[None], window=Window(0, r0, grid.width, r1 - r0))
    return summary


def read_reflectance(path: Path, bands: Sequence[int], *, pixel_m: float
                     ) -> tuple[np.ndarray, np.ndarray, Affine, RasterGrid]:
    """``bands`` of ``path`` averaged onto a coarser grid of about ``pixel_m`` (a detector's
    working resolution): float32 (C, h, w), validity (h, w), the coarse transform."""
    with rasterio.open(path) as src:
        grid = RasterGrid.from_dataset(src)
        f = max(1, round(pixel_m / min(pixel_size_m(grid))))
        shape = (len(bands), math.ceil(src.height / f), math.ceil(src.width / f))
        data = src.read(list(bands), out_shape=shape, resampling=Resampling.average,
                        masked=True)
    t = grid.transform @ Affine.scale(grid.width / shape[2], grid.height / shape[1])
    valid = ~np.ma.getmaskarray(data).any(axis=0)
    return np.ma.filled(data.astype(np.float32), 0.0), valid, t, grid


def write_classes(path: Path, classes: np.ndarray, *, crs: object, transform: Affine) -> Path:
    """A uint8 class raster (a detector's output) for ``build_gap_mask`` to place."""
    with rasterio.open(path, "w", driver="GTiff", width=classes.shape[1],
                       height=classes.shape[0], count=1, dtype="uint8", crs=crs,
                       transform=transform) as dst:
        dst.write(classes.astype(np.uint8)[None])
    return path
