"""Do a layer's values fit the modality it is given as? Checked once per run, before any output.

A layer on the wrong scale is not an error GDAL or the model would notice: reflectance 0..1
where digital numbers (reflectance x 10000) are expected, an 8-bit quicklook, S1 in linear
power declared as dB, a 4-band image given as the DEM, or land-cover codes the model does not
know (they would silently become its "no data" class) all run to the end and give results
that are wrong by orders of magnitude. Each such finding is an ``InputError`` that says what
was seen and how to fix it; ``accept_unusual_values`` (the doors' override, declared in
``options.ACCEPT_UNUSUAL_VALUES``) turns them into report notes for the rare legitimate case.

The values are sampled cheaply: the decimated read GDAL serves from overviews when the file
has them, else a grid of small windows spread over the raster, never the whole granule.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from ..engine.modalities import remap_codes
from ..engine.package import ModelPackage
from ..errors import InputError
from ..geo import detect_s1_scale
from .options import ACCEPT_UNUSUAL_VALUES

_log = logging.getLogger(__name__)

#: a raster this small (pixels a side) is read whole; larger ones are sampled
SAMPLE_SIDE = 256
#: sampled windows per side, and their size (pixels), when there are no overviews
WINDOWS_PER_SIDE = 8
WINDOW_PX = 32
#: S2 digital numbers (reflectance x 10000): a 99th percentile at or below this is reflectance
REFLECTANCE_MAX = 2.0
#: elevations (m) a DEM may hold (Dead Sea shore -430 m, Everest 8849 m, with margin)
DEM_RANGE_M = (-500.0, 9000.0)
#: unknown codes listed in a message at most
MAX_LISTED = 12


@dataclass(frozen=True)
class Sample:
    """Valid values of some bands of a layer (flat float64), and the layer's own facts."""

    values: np.ndarray
    count: int
    dtype: str
    sampled: str


def _windows(width: int, height: int) -> list[Window]:
    size = min(WINDOW_PX, width, height)
    cols = np.linspace(0, width - size, WINDOWS_PER_SIDE).round().astype(int)
    rows = np.linspace(0, height - size, WINDOWS_PER_SIDE).round().astype(int)
    return [Window(int(c), int(r), size, size)
            for r in sorted(set(rows)) for c in sorted(set(cols))]


def sample_layer(path: Path, bands: Sequence[int], *, nodata: float | None) -> Sample:
    """The valid values of ``bands`` on a sample of the layer (at most a few 10^4 pixels)."""
    bands = list(bands)
    with rasterio.open(path) as src:
        if max(src.width, src.height) <= SAMPLE_SIDE or src.overviews(bands[0]):
            f = max(1, math.ceil(max(src.width, src.height) / SAMPLE_SIDE))
            shape = (len(bands), math.ceil(src.height / f), math.ceil(src.width / f))
            data = src.read(bands, out_shape=shape, resampling=Resampling.nearest)
            masks = src.read_masks(bands, out_shape=shape, resampling=Resampling.nearest)
            sampled = "whole layer" if f == 1 else f"overview view, 1/{f} a side"
        else:
            wins = _windows(src.width, src.height)
            data = np.concatenate([src.read(bands, window=w).reshape(len(bands), -1)
                                   for w in wins], axis=1)
            masks = np.concatenate([src.read_masks(bands, window=w).reshape(len(bands), -1)
                                    for w in wins], axis=1)
            sampled = f"{len(wins)} windows of {wins[0].width} px"
        count, dtype = src.count, src.dtypes[bands[0] - 1]
    values = data.astype(np.float64)
    ok = (values != nodata) if nodata is not None else masks != 0
    ok &= np.isfinite(values)
    return Sample(values[ok], count, dtype, sampled)


def _fix() -> str:
    return (f"if the values are right after all, rerun with {ACCEPT_UNUSUAL_VALUES.option} "
            f"(Processing: {ACCEPT_UNUSUAL_VALUES.parameter})")


def _num(x: float) -> str:
    """Whole numbers as they are (-32768), others to 4 significant digits."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e12 else f"{x:.4g}"


def _range(v: np.ndarray) -> str:
    lo, p99, hi = np.percentile(v, [0, 99, 100])
    return f"values {_num(lo)}..{_num(hi)}, 99th percentile {_num(p99)}"


def reflectance_problems(s: Sample) -> list[str]:
    """S2 L1C/L2A: digital numbers = reflectance x 10000 (int16/uint16 in the products)."""
    if s.dtype in ("uint8", "int8"):
        return ["is an 8-bit layer (0..255): a quicklook or true-colour rendering, not "
                "Sentinel-2 digital numbers (reflectance x 10000, 16-bit in the L1C/L2A "
                "products); use the product's 16-bit bands"]
    if s.values.size and float(np.percentile(s.values, 99)) <= REFLECTANCE_MAX:
        return [f"holds {_range(s.values)}: reflectance 0..1, where Sentinel-2 digital numbers "
                "(reflectance x 10000, as in the L1C/L2A products) are expected; multiply the "
                "bands by 10000 (Raster calculator, or gdal_calc.py --calc \"A*10000\")"]
    return []


def s1_problems(s: Sample, stated: str) -> list[str]:
    """S1: a stated scale (db / linear) the values contradict (``auto`` was detected already)."""
    if stated not in ("db", "linear") or not s.values.size:
        return []
    other = {"db": "linear", "linear": "db"}[stated]
    try:
        seen = detect_s1_scale(s.values)
    except ValueError:
        med = float(np.median(s.values))
        if stated == "linear" and med > 1.5:
            return [f"holds {_range(s.values)} (median {med:.4g}): too large for linear power "
                    "(backscatter gamma0, median well below 1); amplitude or scaled digital "
                    "numbers? convert to power or dB first"]
        return []
    if seen.scale == stated:
        return []
    names = {"db": "dB", "linear": "linear power"}
    return [f"holds values that look like {names[seen.scale]} ({seen.reason}), but the S1 "
            f"scale is set to {names[stated]}: set it to {other!r} or 'auto' (--s1-scale, "
            "Processing: S1_SCALE)"]


def dem_problems(s: Sample, *, mapped: bool) -> list[str]:
    """DEM: one band of elevations in metres."""
    problems = []
    if s.count != 1 and not mapped:
        problems.append(f"has {s.count} bands, where a DEM has one (elevation in metres): is it "
                        "the right file? If the elevation is one band of it, name that band "
                        "with a band mapping (DEM:k)")
    if s.values.size:
        lo, hi = float(np.min(s.values)), float(np.max(s.values))
        if lo < DEM_RANGE_M[0] or hi > DEM_RANGE_M[1]:
            problems.append(f"holds {_range(s.values)}, outside the elevations a DEM holds "
                            f"({DEM_RANGE_M[0]:g}..{DEM_RANGE_M[1]:g} m): elevations in metres "
                            "expected; declare the layer's nodata value if voids are marked "
                            "(e.g. -32768), or convert the units")
    return problems


def code_problems(s: Sample, known: Mapping[int, str], remap: Mapping[int, int] | None,
                  *, remap_hint: str) -> list[str]:
    """LULC / cloud mask: every code, after the chosen numbering, must be one the model has."""
    if not s.values.size:
        return []
    if not np.all(s.values == np.rint(s.values)):
        return [f"holds non-integer values ({_range(s.values)}): class codes expected"]
    codes, counts = np.unique(remap_codes(s.values.astype(np.int64), remap), return_counts=True)
    unknown = [(int(c), int(n)) for c, n in zip(codes, counts, strict=True) if int(c) not in known]
    if not unknown:
        return []
    share = 100.0 * sum(n for _, n in unknown) / s.values.size
    listed = ", ".join(str(c) for c, _ in unknown[:MAX_LISTED])
    more = f" and {len(unknown) - MAX_LISTED} more" if len(unknown) > MAX_LISTED else ""
    table = ", ".join(f"{c} {n}".strip() for c, n in known.items())
    return [f"holds class codes the model does not know: {listed}{more} ({share:.1f} % of the "
            f"sampled pixels{', after the chosen remap' if remap else ''}); they would become "
            f"its 'no data' class. The model knows {table}. {remap_hint}"]


def known_codes(package: ModelPackage, family: str) -> dict[int, str]:
    """Class codes (and names) of the package's categorical groups of ``family``."""
    out: dict[int, str] = {}
    for key in package.keys_of_family(family):
        norm = package.modalities[key].normalisation
        if norm.kind != "onehot":
            continue
        names = norm.constants.get("names") or []
        for i, code in enumerate(norm.const("codes")):
            out[int(code)] = str(names[i]) if i < len(names) else ""
    return out


LULC_HINT = ("If the layer uses the TerraMind / TerraMesh numbering choose it (--lulc-remap "
             "terramind, Processing: LULC_CODES), map other codes with --lulc-remap from:to,..., "
             "or declare the value that marks no data as the layer's nodata.")

CLOUD_HINT = "Cloud masks hold 0 clear, 1 thick, 2 thin, 3 shadow."


def layer_problems(path: Path, family: str, bands: Iterable[int], package: ModelPackage, *,
                   nodata: float | None, s1_scale: str = "auto",
                   code_remap: Mapping[int, int] | None = None,
                   mapped: bool = False) -> list[str]:
    """What is implausible about the layer's values for ``family`` (empty: nothing)."""
    used = sorted(set(bands)) or [1]
    s = sample_layer(path, used, nodata=nodata)
    _log.info("value check of %s as %s on %s: %d valid values", path.name, family, s.sampled,
              s.values.size)
    if family in ("S2L2A", "S2L1C"):
        return reflectance_problems(s)
    if family == "S1RTC":
        return s1_problems(s, s1_scale)
    if family == "DEM":
        return dem_problems(s, mapped=mapped)
    if family in ("LULC", "cloud_mask"):
        known = known_codes(package, family)
        hint = LULC_HINT if family == "LULC" else CLOUD_HINT
        return code_problems(s, known, code_remap, remap_hint=hint) if known else []
    return []


def judge(problems: Sequence[str], what: str, *, accept: bool) -> list[str]:
    """Problems -> an ``InputError`` (the first, with the override named), or with ``accept``
    report notes saying the values were used as they are."""
    if not problems:
        return []
    if not accept:
        raise InputError(f"{what} {problems[0]}; {_fix()}")
    notes = [f"{what} {p} (used as it is: {ACCEPT_UNUSUAL_VALUES.parameter} / "
             f"{ACCEPT_UNUSUAL_VALUES.option})" for p in problems]
    for note in notes:
        _log.warning("%s", note)
    return notes
