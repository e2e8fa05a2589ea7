"""Footprint planning and raster I/O with rasterio (numpy + rasterio only: no QGIS, no torch).

Typical use by the orchestrator, per gap fill::

    grid = RasterGrid.from_path(target)
    gaps = GapReader(Path(target), bands=(1, ..., 12), mask_path=mask)
    plan = plan_footprints(grid, gaps, footprint_m=manifest.footprint_m, overlap_m=320,
                           strip_rows=gaps.strip_rows())
    for i, fp in enumerate(plan):
        tw = read_target_window(target, bands, fp.window, mask_path=mask)
        prior = plan.prior_coverage(i)                        # generated before: observed now
        s2_10m = read_modality(target, group_idx, fp, pixel_size_m=10, resampling="bilinear")
        ...                                                   # engine generates on native grids
        patch = to_target_grid(gen, fp, grid, pixel_size_m=10, resampling="bilinear")
        write = tw.gap & patch.covered & ~prior
        writer.write_window(to_output_dtype(patch.data, dtype, nodata), fp.window, mask=write)
"""

from __future__ import annotations

from .bands import (
    S2L1C_ORDER,
    S2L2A_ORDER,
    STANDARD_ORDERS,
    BandLayout,
    S1Scale,
    band_layout,
    canonical_band,
    db_to_linear,
    detect_s1_scale,
    group_bands,
    parse_band_mapping,
    s1_scale_of_layer,
)
from .footprints import (
    Footprint,
    FootprintPlan,
    GapSource,
    intersect_windows,
    plan_footprints,
    window_slices,
)
from .grid import RasterGrid, grid_offset, pixel_size_m, to_lonlat, utm_crs, working_crs
from .meta import DateChoice, layer_date, parse_date, resolve_date
from .place import TargetPatch, default_resampling, to_target_grid
from .read import (
    GapReader,
    NativeRead,
    TargetWindow,
    read_modality,
    read_target_window,
    resampling_method,
    warp_to_footprint,
)
from .write import GeoTiffWriter, OutputSet, to_output_dtype

__all__ = [
    "S2L1C_ORDER",
    "S2L2A_ORDER",
    "STANDARD_ORDERS",
    "BandLayout",
    "DateChoice",
    "Footprint",
    "FootprintPlan",
    "GapReader",
    "GapSource",
    "GeoTiffWriter",
    "NativeRead",
    "OutputSet",
    "RasterGrid",
    "S1Scale",
    "TargetPatch",
    "TargetWindow",
    "band_layout",
    "canonical_band",
    "db_to_linear",
    "default_resampling",
    "detect_s1_scale",
    "grid_offset",
    "group_bands",
    "intersect_windows",
    "layer_date",
    "parse_band_mapping",
    "parse_date",
    "pixel_size_m",
    "plan_footprints",
    "read_modality",
    "read_target_window",
    "resampling_method",
    "resolve_date",
    "s1_scale_of_layer",
    "to_lonlat",
    "to_output_dtype",
    "to_target_grid",
    "utm_crs",
    "warp_to_footprint",
    "window_slices",
    "working_crs",
]
