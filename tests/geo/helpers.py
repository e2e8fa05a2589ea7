"""Synthetic GeoTIFFs for the geo tests (real rasterio files in tmp dirs, no mocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TERRAMESH = SHARED / "data" / "terramesh"
UTM32N = CRS.from_epsg(32632)
# A 10 m UTM 32N grid origin (north of Milan); pixel edges on whole metres.
ORIGIN = (500_000.0, 5_020_000.0)


def north_up(x: float, y: float, res: float, yres: float | None = None) -> Affine:
    """Transform with top-left corner (x, y) and square (or res x yres) pixels."""
    return Affine(res, 0.0, x, 0.0, -(res if yres is None else yres), y)


def utm_grid_transform(res: float = 10.0, origin: tuple[float, float] = ORIGIN) -> Affine:
    return north_up(origin[0], origin[1], res)


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    crs: CRS = UTM32N,
    transform: Affine | None = None,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write (C, H, W) or (H, W) to a GeoTIFF and return its path."""
    a = data if data.ndim == 3 else data[None]
    with rasterio.open(
        path, "w", driver="GTiff", width=a.shape[2], height=a.shape[1], count=a.shape[0],
        dtype=a.dtype.name, crs=crs, transform=transform or utm_grid_transform(), nodata=nodata,
    ) as ds:
        ds.write(a)
        if descriptions:
            for i, d in enumerate(descriptions, start=1):
                ds.set_band_description(i, d)
        if tags:
            ds.update_tags(**tags)
    return path


def need_terramesh() -> Path:
    """The real TerraMesh cell folder, or skip (the data live outside the repository)."""
    cell = TERRAMESH / "282D_485L_3_3"
    if not (cell / "S2L2A.tif").exists():
        pytest.skip(f"real sample rasters not found at {cell} (../shared/data beside the repo)")
    return cell
