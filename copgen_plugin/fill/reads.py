"""Per footprint: the target's partial observation and the conditions on each native grid.

COP-GEN conditions whole modalities, so a condition with holes (a DEM void, an S1 swath edge,
a layer that ends inside the footprint) must be made whole or left out. Rule, reported per
footprint: at least ``MIN_CONDITION_COVER`` of the native pixels valid -> holes filled
(continuous: GDAL's inverse-distance fill; LULC: the model's own "no data" class; cloud mask:
the footprint's most common class); less -> the condition is dropped for that footprint and
its groups are generated jointly instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from rasterio.fill import fillnodata

from ..engine.requests import PartialObservation
from ..geo import Footprint, RasterGrid, default_resampling, read_modality, warp_to_footprint
from .inputs import ConditionSetup, GroupIO, TargetSetup

_log = logging.getLogger(__name__)

MIN_CONDITION_COVER = 0.9
#: a raster code no class table holds: the engine's one-hot puts it on channel 0, which is
#: COP-GEN's LULC "None/NoData" class
_NO_CLASS = -1


@dataclass(frozen=True)
class ConditionRead:
    """One condition's values per group key for a footprint, and what was done to them."""

    values: dict[str, np.ndarray]
    filled_holes: tuple[str, ...]
    dropped: tuple[str, ...]


def target_observation(target: TargetSetup, group: GroupIO, fp: Footprint, grid: RasterGrid,
                       values: np.ndarray, known: np.ndarray) -> PartialObservation:
    """The group's held pixels on its native grid.

    ``values``: (count, h, w) on the footprint's window of the target grid, output units, or
    (N, count, h, w) with one composite per sample (observed + that sample's earlier overlap);
    ``known`` (h, w): True where held. A native pixel counts as observed only when every
    target pixel under it is known, so gap pixels are always generated, never interpolated
    from their neighbours.
    """
    stack = values if values.ndim == 4 else values[None]
    n = stack.shape[0]
    idx = [b - 1 for b in group.bands]
    chans = stack[:, idx].astype(np.float32)
    chans = np.asarray(target.to_model(chans), dtype=np.float32)
    c = len(idx)
    res = default_resampling(from_m=target.native_px, to_m=group.pixel_size_m,
                             categorical=target.categorical)
    nr = warp_to_footprint(chans.reshape(n * c, *chans.shape[2:]), known, src_crs=grid.crs,
                           src_transform=grid.window_transform(fp.window), footprint=fp,
                           pixel_size_m=group.pixel_size_m, resampling=res,
                           size_px=group.size_px, min_valid_fraction=1.0)
    data = np.where(nr.valid[None], nr.data, 0.0).astype(np.float32)
    data = data.reshape(n, c, *data.shape[1:])
    if target.categorical:
        data = np.rint(data).astype(np.int64)
    return PartialObservation(values=data if values.ndim == 4 else data[0], observed=nr.valid)


def _fill_holes(data: np.ndarray, valid: np.ndarray, family: str) -> np.ndarray:
    out = np.where(valid[None], data, 0.0).astype(np.float32)
    if family == "LULC":
        out[:, ~valid] = _NO_CLASS
    elif family == "cloud_mask":
        codes, counts = np.unique(out[0][valid], return_counts=True)
        out[:, ~valid] = codes[np.argmax(counts)]
    else:
        mask = valid.astype(np.uint8)
        for c in range(out.shape[0]):
            out[c] = fillnodata(out[c], mask=mask, max_search_distance=float(max(out.shape)),
                                smoothing_iterations=0)
    return out


def read_condition(cond: ConditionSetup, fp: Footprint) -> ConditionRead:
    """Each group of the condition on its native grid for this footprint (physical units:
    S1 linear power, DEM metres, class codes as int64)."""
    values: dict[str, np.ndarray] = {}
    filled: list[str] = []
    dropped: list[str] = []
    for g in cond.groups:
        nr = read_modality(cond.layer.path, g.bands, fp, pixel_size_m=g.pixel_size_m,
                           resampling=cond.resampling[g.key],  # type: ignore[arg-type]
                           size_px=g.size_px, src_nodata=cond.layer.nodata,
                           value_transform=cond.value_transform())
        cover = float(nr.valid.mean())
        if cover >= 1.0:
            data = nr.data
        elif cover >= MIN_CONDITION_COVER:
            data = _fill_holes(nr.data, nr.valid, cond.family)
            filled.append(g.key)
        else:
            dropped.append(g.key)
            _log.info("footprint %d: %s covers %.0f %% of %s; generated instead",
                      fp.index, cond.layer.path.name, 100 * cover, g.key)
            continue
        values[g.key] = np.rint(data).astype(np.int64) if cond.categorical else data
    return ConditionRead(values, tuple(filled), tuple(dropped))
