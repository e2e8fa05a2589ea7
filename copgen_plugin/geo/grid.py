"""Raster grids as values, and the metric working CRS that footprints are planned in.

COP-GEN's footprint is a square of true ground metres (1920 m). A target layer may be in a
geographic CRS (degrees) or in a projected CRS whose units are far from ground metres (Web
Mercator away from the equator). Footprints and every modality's native grid are therefore
laid out in a *working CRS*: the layer's own CRS when it is projected in metres with a local
scale close to 1, else the local UTM zone of the layer's centre.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import DatasetReader
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

_log = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)

# Offsets within this many pixels of an integer count as "the same grid" (GeoTIFFs written by
# different tools disagree in the 1e-10 m digits of their origins).
ALIGN_TOL_PX = 1e-6


@dataclass(frozen=True)
class RasterGrid:
    """The georeference of a raster: CRS, north-up affine transform and size in pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(
                f"a raster grid needs at least 1x1 pixels, got {self.width}x{self.height}")
        t = self.transform
        if t.b != 0.0 or t.d != 0.0 or t.a <= 0.0 or t.e >= 0.0:
            raise ValueError(
                f"only north-up rasters are supported (transform {tuple(t)[:6]}); "
                "warp the layer to a north-up grid first (e.g. gdalwarp)"
            )

    @classmethod
    def from_dataset(cls, ds: DatasetReader) -> RasterGrid:
        if ds.crs is None:
            raise ValueError(f"{ds.name} has no CRS; assign one before using it")
        return cls(crs=ds.crs, transform=ds.transform, width=ds.width, height=ds.height)

    @classmethod
    def from_path(cls, path: str | Path) -> RasterGrid:
        with rasterio.open(path) as ds:
            return cls.from_dataset(ds)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """Pixel width and height in CRS units (both positive)."""
        return (self.transform.a, -self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        t = self.transform
        return (t.c, t.f + self.height * t.e, t.c + self.width * t.a, t.f)

    @property
    def full_window(self) -> Window:
        return Window(0, 0, self.width, self.height)

    def window_transform(self, window: Window) -> Affine:
        """Transform of a window's pixel (0, 0) corner: origin + offset * pixel size."""
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def clip(self, window: Window) -> Window | None:
        """The part of an integer window inside the raster, or None when they do not meet."""
        c0 = max(int(window.col_off), 0)
        r0 = max(int(window.row_off), 0)
        c1 = min(int(window.col_off + window.width), self.width)
        r1 = min(int(window.row_off + window.height), self.height)
        if c1 <= c0 or r1 <= r0:
            return None
        return Window(c0, r0, c1 - c0, r1 - r0)

    def centre_lonlat(self) -> tuple[float, float]:
        t = self.transform
        x = t.c + 0.5 * self.width * t.a
        y = t.f + 0.5 * self.height * t.e
        return to_lonlat(self.crs, x, y)


def to_lonlat(crs: CRS, x: float, y: float) -> tuple[float, float]:
    """(lon, lat) in WGS84 of one point given in ``crs``."""
    if crs == WGS84:
        return (float(x), float(y))
    xs, ys = warp_transform(crs, WGS84, [x], [y])
    return (float(xs[0]), float(ys[0]))


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone holding (lon, lat): EPSG:326zz north, 327zz south (no Norway quirks)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"not a WGS84 longitude/latitude: ({lon}, {lat})")
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0.0 else 32700) + zone)


def _local_scale(crs: CRS, x: float, y: float, step: float, ref: CRS) -> tuple[float, float]:
    """Ground metres per CRS metre along x and y at (x, y), measured in the reference UTM CRS."""
    xs = [x - step, x + step, x, x]
    ys = [y, y, y - step, y + step]
    ux, uy = warp_transform(crs, ref, xs, ys)
    sx = math.hypot(ux[1] - ux[0], uy[1] - uy[0]) / (2.0 * step)
    sy = math.hypot(ux[3] - ux[2], uy[3] - uy[2]) / (2.0 * step)
    return (sx, sy)


def working_crs(grid: RasterGrid, *, max_scale_error: float = 0.01) -> CRS:
    """The metric CRS footprints are planned in.

    The raster's own CRS when it is projected in metres and one CRS metre is a ground metre
    within ``max_scale_error`` at the raster centre (UTM, national grids); otherwise the UTM
    zone of the raster centre (geographic CRSs, Web Mercator off the equator, feet).
    Scale is measured against the local UTM zone (itself within 0.1 % of true scale).
    """
    lon, lat = grid.centre_lonlat()
    utm = utm_crs(lon, lat)
    crs = grid.crs
    if crs.is_projected:
        unit_name, factor = crs.linear_units_factor
        if factor == 1.0:
            t = grid.transform
            cx = t.c + 0.5 * grid.width * t.a
            cy = t.f + 0.5 * grid.height * t.e
            sx, sy = _local_scale(crs, cx, cy, 500.0, utm)
            if max(abs(sx - 1.0), abs(sy - 1.0)) <= max_scale_error:
                return crs
            _log.info(
                "%s is off ground scale by %.2f %% at the layer centre; working in %s",
                crs.to_string(), 100.0 * max(abs(sx - 1.0), abs(sy - 1.0)), utm.to_string(),
            )
        else:
            _log.info("%s is in %s, not metres; working in %s", crs.to_string(), unit_name,
                      utm.to_string())
    return utm


def pixel_size_m(grid: RasterGrid) -> tuple[float, float]:
    """Approximate ground size (x, y) in metres of the raster's centre pixel.

    Exact for a projected metre CRS; for other CRSs measured in the local UTM zone.
    """
    crs = grid.crs
    if crs.is_projected and crs.linear_units_factor[1] == 1.0:
        return grid.res
    lon, lat = grid.centre_lonlat()
    utm = utm_crs(lon, lat)
    t = grid.transform
    cx = t.c + 0.5 * grid.width * t.a
    cy = t.f + 0.5 * grid.height * t.e
    xs = np.array([cx, cx + t.a, cx])
    ys = np.array([cy, cy, cy + t.e])
    ux, uy = warp_transform(crs, utm, xs, ys)
    return (
        math.hypot(ux[1] - ux[0], uy[1] - uy[0]),
        math.hypot(ux[2] - ux[0], uy[2] - uy[0]),
    )


def grid_offset(src: Affine, dst: Affine) -> tuple[int, int] | None:
    """(row, col) of ``dst``'s origin on ``src``'s pixel grid when both share pixel size and
    their origins differ by whole pixels (within ALIGN_TOL_PX); else None.

    Used to take exact crops instead of resampling when grids coincide.
    """
    if src.b != 0.0 or src.d != 0.0 or dst.b != 0.0 or dst.d != 0.0:
        return None
    if not (math.isclose(src.a, dst.a, rel_tol=1e-9) and math.isclose(src.e, dst.e, rel_tol=1e-9)):
        return None
    col = (dst.c - src.c) / src.a
    row = (dst.f - src.f) / src.e
    rc, cc = round(row), round(col)
    if abs(row - rc) > ALIGN_TOL_PX or abs(col - cc) > ALIGN_TOL_PX:
        return None
    return (int(rc), int(cc))
