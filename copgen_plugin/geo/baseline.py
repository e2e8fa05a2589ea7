"""Yardsticks for a fill: GDAL FillNodata (the non-generative baseline) and the distance of
each gap pixel from the observed ones (errors and spread grow with it).

One implementation for the self-check of a run (``fill/selfcheck.py``), the demo's quicklook
and ``benchmarks/bench_spread.py``, so all three report the same figures. GDAL's own Python
bindings (which QGIS always ships; imported when called), no torch.
"""

from __future__ import annotations

import numpy as np


def fill_nodata(image: np.ndarray, observed: np.ndarray, max_search_px: int) -> np.ndarray:
    """(C, H, W) float32: every band of ``image`` filled by GDAL FillNodata (inverse distance
    from the gap edge, no smoothing) from the ``observed`` (H, W) pixels only."""
    from osgeo import gdal

    gdal.UseExceptions()
    h, w = observed.shape
    mem = gdal.GetDriverByName("MEM")
    mask = mem.Create("", w, h, 1, gdal.GDT_Byte)
    mask.GetRasterBand(1).WriteArray(observed.astype(np.uint8))
    out = np.empty(image.shape, np.float32)
    for b, band in enumerate(image):
        ds = mem.Create("", w, h, 1, gdal.GDT_Float32)
        ds.GetRasterBand(1).WriteArray(np.where(observed, band, 0).astype(np.float32))
        gdal.FillNodata(ds.GetRasterBand(1), mask.GetRasterBand(1),
                        maxSearchDist=max_search_px, smoothingIterations=0)
        out[b] = ds.GetRasterBand(1).ReadAsArray()
    return out


def distance_to_observed(gap: np.ndarray, pixel_m: float) -> np.ndarray:
    """Metres from each pixel to the nearest observed pixel (GDAL's proximity)."""
    from osgeo import gdal

    gdal.UseExceptions()
    h, w = gap.shape
    mem = gdal.GetDriverByName("MEM")
    src = mem.Create("", w, h, 1, gdal.GDT_Byte)
    src.GetRasterBand(1).WriteArray((~gap).astype(np.uint8))
    dst = mem.Create("", w, h, 1, gdal.GDT_Float32)
    gdal.ComputeProximity(src.GetRasterBand(1), dst.GetRasterBand(1),
                          ["VALUES=1", "DISTUNITS=PIXEL"])
    return dst.GetRasterBand(1).ReadAsArray() * pixel_m
