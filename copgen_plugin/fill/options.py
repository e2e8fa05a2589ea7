"""One vocabulary for the two doors (Processing and the CLI): enumerations, the condition
table and the text parsers.

Each door is a table-driven translation of these: the Processing algorithms declare their
enumerations from the tuples here (index = position), the CLI its ``choices``; both parse the
same texts with the same functions and get the same ``InputError`` messages (the door adds
only the name of its parameter or option). Dependency-free at import (the plugin declares its
parameters at load time, without numpy or rasterio).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..engine.devices import DEVICES, PRECISIONS, Device, Precision
from ..errors import InputError

__all__ = [
    "ACCEPT_UNUSUAL_VALUES",
    "BOUNDS",
    "CONDITIONS",
    "DEFAULT_BUFFER_M",
    "DEFAULT_PROBABILITY_THRESHOLD",
    "DEFAULT_SCL_CLASSES",
    "DEVICES",
    "EDGES",
    "LAYER_LABELS",
    "LAYER_MODALITIES",
    "LULC_NUMBERINGS",
    "MASK_SOURCES",
    "MASK_SOURCE_LABELS",
    "MAX_RASTER_PIXELS",
    "MODES",
    "OUTPUT_SUFFIXES",
    "PRECISIONS",
    "S1_SCALES",
    "SCL_CLASS_NAMES",
    "SELF_CHECK",
    "SPREAD_STATISTICS",
    "SPREAD_TEXT",
    "Bound",
    "ConditionSlot",
    "Device",
    "DoorOption",
    "LayerModality",
    "MaskSource",
    "Mode",
    "Precision",
    "S1ScaleChoice",
    "SpreadStatistic",
    "parse_condition_bands",
    "parse_date",
    "parse_lulc_remap",
    "parse_scl_classes",
    "parse_self_check",
    "probability_threshold",
]

LayerModality = Literal["S2L2A", "S2L1C", "S1RTC", "DEM", "LULC", "cloud_mask"]
#: Modality families a layer can be given as (target or condition), in parameter order.
LAYER_MODALITIES: tuple[LayerModality, ...] = (
    "S2L2A", "S2L1C", "S1RTC", "DEM", "LULC", "cloud_mask")
#: what the doors show for each of LAYER_MODALITIES
LAYER_LABELS: tuple[str, ...] = (
    "Sentinel-2 L2A (12 bands B01..B08, B8A, B09, B11, B12)",
    "Sentinel-2 L1C (13 bands B01..B08, B8A, B09..B12)",
    "Sentinel-1 RTC (2 bands VV, VH; dB or linear power)",
    "DEM (1 band, metres)",
    "Land cover (1 band, class codes)",
    "Cloud mask (1 band: 0 clear, 1 thick, 2 thin, 3 shadow)",
)

@dataclass(frozen=True)
class Bound:
    """The accepted range of one numeric parameter, the same at both doors."""

    minimum: float
    maximum: float


#: numeric parameters (FillRequest field -> range): Processing declares them as the
#: parameters' min/max, ``fill.request.validate`` refuses values outside them (the CLI's door)
BOUNDS: Mapping[str, Bound] = {
    "n_samples": Bound(1, 64),
    "steps": Bound(1, 1000),
    "seed": Bound(0, 2**31 - 1),
    "overlap_m": Bound(0.0, 960.0),
    "batch_size": Bound(1, 64),
    "batch_rows": Bound(0, 4096),
    "threads": Bound(0, 256),
}

#: the largest target raster one run accepts (width x height): a 200,000 x 200,000 px layer
#: would be planned for minutes; such a layer is refused before planning, with the fix
MAX_RASTER_PIXELS = 1_000_000_000

#: the outputs are GeoTIFFs: their paths must say so (a .png name holding a GeoTIFF misleads)
OUTPUT_SUFFIXES = (".tif", ".tiff")

Mode = Literal["gapfill", "generate"]
MODES: tuple[Mode, ...] = ("gapfill", "generate")

S1ScaleChoice = Literal["auto", "db", "linear"]
#: How a Sentinel-1 layer's values are read: detected from the values, or stated.
S1_SCALES: tuple[S1ScaleChoice, ...] = ("auto", "db", "linear")

SpreadStatistic = Literal["std", "range", "iqr"]
SPREAD_STATISTICS: tuple[SpreadStatistic, ...] = ("std", "range", "iqr")
SPREAD_TEXT: Mapping[str, str] = {"std": "standard deviation (ddof=1)",
                                  "range": "range (max - min)", "iqr": "interquartile range"}

#: land cover numberings a LULC layer may use (index 1: remapped into COP-GEN's Esri codes)
LULC_NUMBERINGS = ("Esri / COP-GEN (1 water, 2 trees, 4 flooded veg., 5 crops, 7 built, ...)",
                   "TerraMind / TerraMesh (1 water, 2 trees, 3 flooded veg., 4 crops, ...)")

MaskSource = Literal["nodata", "scl", "scl_product", "probability", "detector"]
#: MASK_SOURCE choices, in parameter order
MASK_SOURCES: tuple[MaskSource, ...] = ("nodata", "scl", "scl_product", "probability", "detector")
MASK_SOURCE_LABELS = (
    "Nodata and the mask layer only",
    "An SCL layer (Sentinel-2 L2A scene classification)",
    "The SCL of the input product (SAFE / STAC)",
    "A cloud-probability layer",
    "The offline cloud and shadow detector (ukis-csmask)",
)
#: Sentinel-2 L2A scene classification codes (ESA L2A product specification)
SCL_CLASS_NAMES: dict[int, str] = {
    0: "no data", 1: "saturated or defective", 2: "dark area pixels", 3: "cloud shadows",
    4: "vegetation", 5: "not vegetated", 6: "water", 7: "unclassified",
    8: "cloud medium probability", 9: "cloud high probability", 10: "thin cirrus",
    11: "snow or ice",
}
#: filled by default: cloud shadows, clouds (medium, high), thin cirrus, saturated/defective;
#: snow (11) and water (6) are surfaces, never gaps unless asked for
DEFAULT_SCL_CLASSES: tuple[int, ...] = (3, 8, 9, 10, 1)
DEFAULT_BUFFER_M = 60.0
#: a probability layer is a gap where its value is at least this share (0-1 scale)
DEFAULT_PROBABILITY_THRESHOLD = 0.5


#: how the generated pixels meet their surroundings, by ``FillReport.harmonised``
EDGES = {True: "samples blended into the held pixels around them (Poisson)",
         False: "raw samples (not blended)"}


@dataclass(frozen=True)
class DoorOption:
    """An option both doors offer in one definition: the Processing parameter (advanced), the
    CLI flag (with its dashes), the label and help they show, the default (a fraction, or a
    boolean escape hatch: False)."""

    parameter: str
    option: str
    label: str
    help: str
    default: float | bool = False


#: the self-check (issue 18): share of the footprints graded on observed pixels they hide
SELF_CHECK = DoorOption(
    "SELF_CHECK", "--self-check", "Self-check: fraction of footprints graded (0 = off)",
    "In this share of the footprints (at least one when above 0), an extra, separate "
    "generation hides observed pixels in gap-shaped blobs and scores the samples against them "
    "(MAE, RMSE, interval coverage, spread-skill, CRPS, GDAL FillNodata's MAE), written beside "
    "the outputs as <filled>_selfcheck.json/.csv/.png. The outputs themselves are unchanged; "
    "it costs the extra footprints' time.", default=0.0)


def parse_self_check(value: float | str | None) -> float:
    """The self-check fraction: a number in [0, 1] (0 or empty: off)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    try:
        fraction = float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number between 0 and 1") from None
    if not 0.0 <= fraction <= 1.0:  # NaN fails too
        raise InputError(f"the self-check fraction must be between 0 and 1, got {value}")
    return fraction


@dataclass(frozen=True)
class ConditionSlot:
    """One condition layer slot: the Processing parameter, the CLI option, the family."""

    parameter: str
    option: str
    family: LayerModality


#: the condition layers both doors offer, in Processing parameter order
CONDITIONS: tuple[ConditionSlot, ...] = (
    ConditionSlot("DEM", "dem", "DEM"),
    ConditionSlot("S1RTC", "s1", "S1RTC"),
    ConditionSlot("S2L1C", "s2l1c", "S2L1C"),
    ConditionSlot("S2L2A", "s2l2a", "S2L2A"),
    ConditionSlot("LULC", "lulc", "LULC"),
    ConditionSlot("CLOUD_MASK", "cloud_mask", "cloud_mask"),
)


#: the plausibility checks of ``fill.plausibility`` become report notes instead of errors
ACCEPT_UNUSUAL_VALUES = DoorOption(
    "ACCEPT_UNUSUAL_VALUES", "--accept-unusual-values",
    "Accept layer values that look wrong for their modality",
    "Each layer's values are checked against its modality (Sentinel-2 digital numbers, not "
    "0..1 reflectance or 8-bit quicklooks; S1 dB vs linear power; one-band DEM in metres; "
    "land-cover codes the model knows) and refused with the fix. Set this only when the "
    "values are right after all: they are then used as they are, and the report says so.")


def parse_date(text: str | None) -> dt.date | None:
    """A date parameter ('2021-06-01', '2021-06-01T10:20:00Z', '20210601') -> a date; empty ->
    None (the date then comes from the metadata, or is generated). The parsing is
    ``geo.dates.parse_date``'s, the one the layers' tags go through."""
    text = (text or "").strip()
    if not text:
        return None
    from ..geo.dates import parse_date as parse  # rasterio: only when running

    try:
        return parse(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date like 2021-06-01") from None


def parse_lulc_remap(text: str | None) -> dict[int, int] | None:
    """``terramind`` or ``"3:4,4:5"`` -> a code mapping into COP-GEN's Esri codes; empty -> None."""
    if text is None or not text.strip():
        return None
    if text.strip().lower() == "terramind":
        from ..engine.modalities import TERRAMIND_TO_ESRI_LULC  # numpy: only when running

        return dict(TERRAMIND_TO_ESRI_LULC)
    out: dict[int, int] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        src, sep, dst = item.partition(":")
        try:
            if not sep:
                raise ValueError
            out[int(src)] = int(dst)
        except ValueError:
            raise InputError(f"{item.strip()!r} is not 'from:to' (e.g. 3:4,4:5 or terramind)"
                             ) from None
    return out


def parse_condition_bands(items: str | Iterable[str] | None) -> dict[str, str]:
    """'S2L1C=B04,B03; S2L2A=B02:1,...' (or one 'FAMILY=MAPPING' per item) -> {family: mapping}."""
    if items is None:
        return {}
    parts = items.split(";") if isinstance(items, str) else items
    families = {f.lower(): f for f in LAYER_MODALITIES}
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in parts)):
        family, sep, mapping = item.partition("=")
        if not sep or family.strip().lower() not in families or not mapping.strip():
            raise InputError(f"'{item}' should be FAMILY=MAPPING with FAMILY one of "
                             f"{', '.join(LAYER_MODALITIES)}")
        out[families[family.strip().lower()]] = mapping.strip()
    return out


def label_of(family: str) -> str:
    """The short label of a layer modality ('Sentinel-1 RTC')."""
    return LAYER_LABELS[LAYER_MODALITIES.index(family)].split(" (")[0]  # type: ignore[arg-type]


def parse_scl_classes(text: str) -> tuple[int, ...]:
    """'3,8,9,10,1' -> (3, 8, 9, 10, 1); InputError naming a code that is not an SCL class."""
    out: list[int] = []
    for item in text.replace(";", ",").replace(" ", ",").split(","):
        if not item.strip():
            continue
        try:
            code = int(item)
        except ValueError:
            raise InputError(f"SCL class {item.strip()!r} is not a number; give codes such as "
                             "3,8,9,10,1") from None
        if code not in SCL_CLASS_NAMES:
            raise InputError(f"SCL class {code} does not exist; classes are 0-11 "
                             f"({', '.join(f'{k} {v}' for k, v in SCL_CLASS_NAMES.items())})")
        if code not in out:
            out.append(code)
    if not out:
        raise InputError("no SCL class given; the default is 3,8,9,10,1")
    return tuple(out)


def probability_threshold(value: float) -> float:
    """A threshold typed as a share (0.4) or a percentage (40) -> the 0-1 share."""
    if not 0.0 <= value <= 100.0:
        raise InputError(f"probability threshold {value:g} is outside 0-1 (or 0-100 %)")
    return value / 100.0 if value > 1.0 else value
