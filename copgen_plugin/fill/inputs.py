"""Map the request's layers onto the package's modality keys, once per run.

A target layer of one family (e.g. a 12-band S2 L2A stack) feeds every band group the package
has for that family; a condition layer feeds the groups of its own family. What is decided
here (band layout, S1 scale, code remap, resampling, output dtype and nodata) is decided once
and reported; ``reads`` then applies it footprint by footprint.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import transform_bounds

from ..arrays import db_to_linear, linear_to_db
from ..engine.modalities import ModalitySpec
from ..engine.package import ModelPackage
from ..errors import InputError
from ..geo import (
    STANDARD_ORDERS,
    BandLayout,
    RasterGrid,
    S1Scale,
    band_layout,
    default_resampling,
    group_bands,
    pixel_size_m,
    s1_scale_of_layer,
)
from .options import LAYER_MODALITIES
from .request import FillRequest, LayerInput

_log = logging.getLogger(__name__)

IMAGE_FAMILIES = LAYER_MODALITIES
CATEGORICAL_FAMILIES = ("LULC", "cloud_mask")
#: nodata of generated categorical outputs (class codes are small; 255 is never a class)
CLASS_NODATA = 255
#: spread rasters: a standard deviation, range or share is never negative
SPREAD_NODATA = -9999.0

ValueCodec = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GroupIO:
    """One package band group fed by (or generated into) a layer.

    ``bands``: 1-based file/output bands in the group's channel order (one for class codes).
    """

    key: str
    spec: ModalitySpec
    bands: tuple[int, ...]

    @property
    def pixel_size_m(self) -> float:
        return float(self.spec.pixel_size_m or 0.0)

    @property
    def size_px(self) -> int:
        return int(self.spec.image_shape[1])


@dataclass(frozen=True)
class TargetSetup:
    """The target layer and what the outputs look like.

    * gapfill: outputs have the layer's bands, dtype and order (a drop-in replacement);
      ``generated`` lists the output bands some group generates, the others are copied through
      with gap pixels set to ``nodata``.
    * generate: outputs have the bands of the package's groups, standard product order.
    """

    path: Path
    family: str
    mode: str
    grid: RasterGrid
    groups: tuple[GroupIO, ...]
    count: int
    dtype: np.dtype
    nodata: float | None
    nodata_override: float | None
    gap_bands: tuple[int, ...]
    descriptions: tuple[str, ...]
    layout_source: str
    ungenerated_names: tuple[str, ...]
    s1: S1Scale | None = None
    code_remap: Mapping[int, int] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def categorical(self) -> bool:
        return self.family in CATEGORICAL_FAMILIES

    @property
    def generated(self) -> tuple[int, ...]:
        return tuple(sorted({b for g in self.groups for b in g.bands}))

    @property
    def ungenerated(self) -> tuple[int, ...]:
        gen = set(self.generated)
        return tuple(b for b in range(1, self.count + 1) if b not in gen)

    @property
    def native_px(self) -> float:
        return max(pixel_size_m(self.grid))

    def to_model(self, values: np.ndarray) -> np.ndarray:
        """Output-unit values -> the engine's physical units (S1 in dB -> linear power)."""
        if self.s1 is not None and self.s1.scale == "db":
            return db_to_linear(values)
        return values

    def from_model(self, values: np.ndarray) -> np.ndarray:
        """Engine physical units -> output units (S1 linear -> dB for a dB layer)."""
        if self.s1 is not None and self.s1.scale == "db":
            return linear_to_db(values)
        return values


@dataclass(frozen=True)
class ConditionSetup:
    """One condition layer: the groups it feeds, how it is resampled and read."""

    layer: LayerInput
    family: str
    groups: tuple[GroupIO, ...]
    resampling: Mapping[str, str]
    layer_px_m: float
    crs_name: str
    s1: S1Scale | None
    description: str

    @property
    def categorical(self) -> bool:
        return self.family in CATEGORICAL_FAMILIES

    def value_transform(self) -> ValueCodec | None:
        """dB -> linear power before resampling, so S1 is averaged in power."""
        if self.s1 is not None and self.s1.scale == "db":
            return db_to_linear
        return None


def _layout(layer: LayerInput, family: str, count: int, descriptions: tuple[str | None, ...],
            what: str) -> BandLayout:
    try:
        return band_layout(family, count, mapping=layer.bands, descriptions=descriptions)
    except ValueError as exc:
        raise InputError(f"{what} {layer.path.name}: {exc}") from None


def _check_sizes(package: ModelPackage, keys: list[str]) -> None:
    """Every image key must cover the package footprint at its pixel size (manifest sanity)."""
    for key in keys:
        spec = package.modalities[key]
        px = spec.pixel_size_m
        if not px or abs(package.footprint_m / px - spec.image_shape[1]) > 1e-6:
            raise InputError(f"model {package.model_id}: {key} is {spec.image_shape[1]} px of "
                             f"{px} m, which is not the {package.footprint_m:g} m footprint")


def _s1_scale(layer: LayerInput, bands: list[int], what: str) -> S1Scale:
    override = None if layer.s1_scale == "auto" else layer.s1_scale
    try:
        return s1_scale_of_layer(layer.path, bands, override=override,  # type: ignore[arg-type]
                                 nodata=layer.nodata)
    except ValueError as exc:
        raise InputError(f"{what} {layer.path.name}: {exc}") from None


@dataclass(frozen=True)
class _Facts:
    grid: RasterGrid
    count: int
    dtypes: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    nodata: float | None
    tags: dict[str, str]


def _dataset_facts(path: Path, what: str) -> _Facts:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    try:
        with rasterio.open(path) as ds:
            return _Facts(RasterGrid.from_dataset(ds), ds.count, tuple(ds.dtypes),
                          tuple(ds.descriptions), ds.nodata, dict(ds.tags()))
    except ValueError as exc:
        raise InputError(f"{what} {path.name}: {exc}") from None
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{what} {path} is not a readable raster: {exc}") from None


def _family_keys(package: ModelPackage, family: str, what: str) -> list[str]:
    keys = package.keys_of_family(family)
    if not keys:
        images = sorted({package.modalities[k].family for k in package.network_order
                         if package.modalities[k].is_image})
        raise InputError(f"model {package.model_id} has no {family} modality, so the {what} "
                         f"cannot be used; it has {', '.join(images)}")
    return keys


def setup_target(request: FillRequest, package: ModelPackage) -> TargetSetup:
    """Target family -> its package groups, band layout, output dtype/nodata/descriptions."""
    layer = request.target
    family = layer.modality
    if family not in IMAGE_FAMILIES:
        raise InputError(f"target modality {family!r} is not one of {', '.join(IMAGE_FAMILIES)}")
    what = "target layer" if request.mode == "gapfill" else "reference layer"
    facts = _dataset_facts(layer.path, what)
    grid, count, dtypes, descriptions = facts.grid, facts.count, facts.dtypes, facts.descriptions
    keys = _family_keys(package, family, f"{family} target")
    _check_sizes(package, keys)
    specs = {k: package.modalities[k] for k in keys}
    if request.mode == "generate":
        return _generate_target(layer, family, grid, specs)
    if len(set(dtypes)) != 1:
        raise InputError(f"target layer {layer.path.name} mixes band types {sorted(set(dtypes))}; "
                         "outputs keep the layer's type, so its bands must share one")
    layout = _layout(layer, family, count, descriptions, "target layer")
    idx = group_bands(layout, {k: s.bands for k, s in specs.items()}, partial=True)
    groups = tuple(GroupIO(k, specs[k], tuple(idx[k])) for k in keys if k in idx)
    named = dict((i, n) for n, i in layout.bands)
    if not groups:
        need = "; ".join(f"{k}: {', '.join(s.bands)}" for k, s in specs.items())
        raise InputError(f"target layer {layer.path.name} ({layout.source}: "
                         f"{', '.join(layout.names())}) feeds none of the model's {family} "
                         f"groups ({need}); give a band mapping that names their bands")
    gen = {b for g in groups for b in g.bands}
    ungenerated = tuple(named.get(b, descriptions[b - 1] or f"band {b}")
                        for b in range(1, count + 1) if b not in gen)
    desc = tuple(named.get(b) or descriptions[b - 1] or f"band {b}" for b in range(1, count + 1))
    s1 = _s1_scale(layer, sorted(gen), "target layer") if family == "S1RTC" else None
    nodata = layer.nodata if layer.nodata is not None else facts.nodata
    return TargetSetup(
        path=layer.path, family=family, mode="gapfill", grid=grid, groups=groups, count=count,
        dtype=np.dtype(dtypes[0]), nodata=nodata, nodata_override=layer.nodata,
        gap_bands=tuple(sorted(named)), descriptions=desc, layout_source=layout.source,
        ungenerated_names=ungenerated, s1=s1,
        code_remap=layer.code_remap if family == "LULC" else None, tags=facts.tags,
    )


def _generate_target(layer: LayerInput, family: str, grid: RasterGrid,
                     specs: Mapping[str, ModalitySpec]) -> TargetSetup:
    """Generate mode: outputs hold every band the package's groups have, in product order."""
    std = STANDARD_ORDERS[family]
    have = {b.upper() for s in specs.values() for b in s.bands}
    names = [b for b in std if b.upper() in have]
    names += sorted({b for s in specs.values() for b in s.bands} - set(names))
    pos = {n.upper(): i + 1 for i, n in enumerate(names)}
    groups = tuple(GroupIO(k, s, tuple(pos[b.upper()] for b in s.bands)) for k, s in specs.items())
    missing = tuple(b for b in std if b.upper() not in have)
    categorical = family in CATEGORICAL_FAMILIES
    s1 = None
    if family == "S1RTC":
        s1 = (S1Scale("db", "parameter", "set by parameter") if layer.s1_scale == "db"
              else S1Scale("linear", "parameter" if layer.s1_scale == "linear" else "default",
                           "generated S1 is written as linear power unless dB is asked for"))
    return TargetSetup(
        path=layer.path, family=family, mode="generate", grid=grid, groups=groups,
        count=len(names), dtype=np.dtype(np.uint8 if categorical else np.float32),
        nodata=float(CLASS_NODATA) if categorical else math.nan, nodata_override=None,
        gap_bands=(), descriptions=tuple(names), layout_source=f"{family} bands of the model",
        ungenerated_names=missing, s1=s1,
        code_remap=layer.code_remap if family == "LULC" else None,
    )


def _overlaps(grid: RasterGrid, other: RasterGrid) -> bool:
    try:
        left, bottom, right, top = transform_bounds(other.crs, grid.crs, *other.bounds,
                                                    densify_pts=21)
    except Exception:  # an impossible transform: treat as disjoint (reported as such)
        return False
    gl, gb, gr, gt = grid.bounds
    return left < gr and right > gl and bottom < gt and top > gb


def setup_condition(layer: LayerInput, package: ModelPackage, target: TargetSetup
                    ) -> tuple[ConditionSetup, list[str]]:
    """A condition layer -> the groups it feeds (and notes on groups it cannot feed)."""
    family = layer.modality
    what = f"{family} condition"
    if family not in IMAGE_FAMILIES:
        raise InputError(f"condition modality {family!r} is not one of "
                         f"{', '.join(IMAGE_FAMILIES)}")
    if family == target.family:
        doing = "filled" if target.mode == "gapfill" else "generated"
        raise InputError(f"the {family} condition has the target's own modality; a layer "
                         f"cannot condition the modality being {doing}")
    facts = _dataset_facts(layer.path, what)
    grid, count, descriptions = facts.grid, facts.count, facts.descriptions
    if not _overlaps(target.grid, grid):
        bounds = tuple(round(v, 3) for v in grid.bounds)
        raise InputError(f"{what} {layer.path.name} does not overlap the target layer "
                         f"({grid.crs.to_string()} bounds {bounds})")
    keys = _family_keys(package, family, what)
    _check_sizes(package, keys)
    specs = {k: package.modalities[k] for k in keys}
    layout = _layout(layer, family, count, descriptions, what)
    idx = group_bands(layout, {k: s.bands for k, s in specs.items()}, partial=True)
    have = set(layout.names())
    notes = [f"{what} lacks band(s) {', '.join(b for b in specs[k].bands if b not in have)}: "
             f"{k} is generated, not conditioned" for k in keys if k not in idx]
    if not idx:
        raise InputError(f"{what} {layer.path.name} ({layout.source}: "
                         f"{', '.join(layout.names())}) feeds none of the model's {family} groups")
    groups = tuple(GroupIO(k, specs[k], tuple(idx[k])) for k in keys if k in idx)
    px = max(pixel_size_m(grid))
    categorical = family in CATEGORICAL_FAMILIES
    resampling = {g.key: default_resampling(from_m=px, to_m=g.pixel_size_m,
                                            categorical=categorical) for g in groups}
    s1 = (_s1_scale(layer, sorted({b for g in groups for b in g.bands}), what)
          if family == "S1RTC" else None)
    parts = [f"{g.key} at {g.pixel_size_m:g} m ({resampling[g.key]}"
             + (", exact crop where the grids coincide)" if abs(px - g.pixel_size_m) < 1e-6
                else ")") for g in groups]
    desc = (f"{family}: {layer.path.name} ({grid.crs.to_string()}, {px:.4g} m) -> "
            + ", ".join(parts))
    if s1 is not None:
        desc += f"; S1 read as {s1.scale} ({s1.source}: {s1.reason})"
    if family == "LULC" and layer.code_remap:
        desc += f"; codes remapped {dict(layer.code_remap)}"
    return ConditionSetup(layer=layer, family=family, groups=groups, resampling=resampling,
                          layer_px_m=px, crs_name=grid.crs.to_string(), s1=s1,
                          description=desc), notes


def check_outputs_apart(request: FillRequest) -> None:
    """Inputs are never written: no output path may be an input path."""
    inputs = {p.resolve() for p in [request.target.path, *(c.path for c in request.conditions),
                                    *([request.mask] if request.mask else [])]}
    outs = [request.outputs.filled, request.outputs.spread]
    for p in outs:
        if p.resolve() in inputs:
            raise InputError(f"output {p} is one of the inputs; inputs are never overwritten")
    if request.outputs.filled.resolve() == request.outputs.spread.resolve():
        raise InputError("the filled and spread outputs are the same file")
    sd = request.outputs.samples_dir.resolve()
    for p in inputs:
        if p.parent == sd and p.name.startswith("sample_"):
            raise InputError(f"input {p} would be overwritten by a sample output in {sd}")
    for p in outs:
        if p.parent.resolve() == sd and p.name.startswith("sample_") and p.suffix == ".tif":
            raise InputError(f"output {p} collides with the sample outputs in {sd}")
