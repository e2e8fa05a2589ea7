"""The non-generative baseline the demo's fills are compared with: GDAL FillNodata.

One implementation for the quicklook (``make demo``) and ``benchmarks/bench_spread.py``, so the
two report the same baseline. GDAL only (no torch), so the run-time side may import it.
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
