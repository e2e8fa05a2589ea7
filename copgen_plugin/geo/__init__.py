"""Footprint planning and raster I/O with rasterio (numpy + rasterio only: no QGIS, no torch).

How an orchestrator drives it for one gap fill (all sizes come from the model manifest)::

    grid = RasterGrid.from_path(target)
    layout = band_layout("S2L2A", count, mapping=user_mapping)        # or descriptions/standard
    groups = group_bands(layout, {key: m.bands for key, m in s2_groups}, partial=True)
    gaps = GapReader(target, bands, nodata=user_nodata, mask_path=mask)
    plan = plan_footprints(grid, gaps, footprint_m=manifest.footprint_m, overlap_m=320,
                           strip_rows=gaps.strip_rows())
    with OutputSet() as outs:                                          # all or nothing
        samples = [outs.add(dest_k, grid, count=..., dtype=..., nodata=...) for dest_k in ...]
        filled = outs.add(dest, grid, ...); spread = outs.add(dest_s, grid, dtype="float32", ...)
        for w in (*samples, filled):
            w.copy_from(target, bands)                                 # observed, bit for bit
        for i, fp in enumerate(plan):                                  # cancel: raise here
            tw = read_target_window(target, bands, fp.window, nodata=..., mask_path=mask)
            prior = plan.prior_coverage(i) & tw.gap                    # generated before
            for k, w in enumerate(samples):                            # inpainting input
                comp = np.where(prior, w.read_window(fp.window), tw.data)
                known = tw.observed | prior
                for key, idx in groups.items():                        # e.g. 20 m group
                    x = warp_to_footprint(comp[idx - 1], known, src_crs=grid.crs,
                                          src_transform=grid.window_transform(fp.window),
                                          footprint=fp, pixel_size_m=20, resampling="average")
            cond = read_modality(dem, [1], fp, pixel_size_m=30, resampling="bilinear")
            # engine: lat/lon = fp.centre_lat/lon, date = resolve_date(...), generate N ...
            patch = to_target_grid(gen_k, fp, grid, pixel_size_m=10, resampling="bilinear")
            write = tw.gap & patch.covered & ~prior                    # seams: never twice
            samples[k].write_window(to_output_dtype(patch.data, dtype, nodata), fp.window,
                                    mask=write)
"""

from __future__ import annotations

from ..arrays import db_to_linear  # re-exported: readers take it as value_transform
from .bands import (
    S2L1C_ORDER,
    S2L2A_ORDER,
    STANDARD_ORDERS,
    BandLayout,
    S1Scale,
    band_layout,
    canonical_band,
    detect_s1_scale,
    group_bands,
    parse_band_mapping,
    s1_scale_of_layer,
)
from .dates import DateChoice, layer_date, parse_date, resolve_date
from .footprints import (
    Footprint,
    FootprintPlan,
    GapSource,
    footprint_dependencies,
    intersect_windows,
    plan_footprints,
    wavefronts,
    window_slices,
)
from .grid import RasterGrid, grid_offset, pixel_size_m, to_lonlat, utm_crs, working_crs
from .read import (
    GapReader,
    TargetWindow,
    read_modality,
    read_target_window,
)
from .warp import (
    NativeRead,
    TargetPatch,
    default_resampling,
    resampling_method,
    to_target_grid,
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
    "footprint_dependencies",
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
    "wavefronts",
    "window_slices",
    "working_crs",
]
