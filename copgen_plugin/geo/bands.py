"""Which file band feeds which model band, and whether an S1 layer is in dB or linear power.

A product layer (e.g. a 12-band S2 L2A stack) feeds several model band groups. The groups and
their channel order come from the model manifest (e.g. ``{"S2L2A_B02_B03_B04_B08": ["B04",
"B03", "B02", "B08"], ...}``); this module only resolves band *names* to 1-based file bands,
from an explicit mapping, from band descriptions, or from the product's standard order.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.enums import Resampling

_log = logging.getLogger(__name__)

S2L2A_ORDER: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
S2L1C_ORDER: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
STANDARD_ORDERS: dict[str, tuple[str, ...]] = {
    "S2L2A": S2L2A_ORDER,
    "S2L1C": S2L1C_ORDER,
    "S1RTC": ("vv", "vh"),
    "DEM": ("DEM",),
    "LULC": ("LULC",),
    "cloud_mask": ("cloud_mask",),
}
_S2_RE = re.compile(r"^B?0*(\d{1,2})(A?)$", re.IGNORECASE)
_S2_VALID = set(S2L1C_ORDER)


def canonical_band(name: str) -> str:
    """Canonical spelling of a band name: 'b2', 'B2', '02' -> 'B02'; 'b8a' -> 'B8A';
    'VV' -> 'vv'; anything else stripped (and matched case-insensitively)."""
    s = name.strip()
    m = _S2_RE.match(s)
    if m:
        num, a = int(m.group(1)), m.group(2).upper()
        cand = f"B{num}A" if a else f"B{num:02d}"
        if cand in _S2_VALID:
            return cand
    if s.lower() in ("vv", "vh", "hh", "hv"):
        return s.lower()
    return s


@dataclass(frozen=True)
class BandLayout:
    """Band name -> 1-based file band of one layer, and where that knowledge came from
    (``source``: 'band mapping', 'band descriptions' or 'standard <family> order')."""

    bands: tuple[tuple[str, int], ...]
    count: int
    source: str

    def index(self, name: str) -> int:
        key = canonical_band(name).upper()
        for n, i in self.bands:
            if n.upper() == key:
                return i
        raise KeyError(name)

    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.bands)


def parse_band_mapping(mapping: str | Sequence[str] | Mapping[str, int]) -> dict[str, int]:
    """A user band mapping to {canonical name: 1-based band}.

    Accepted: ``"B02:1,B03:2,B04:3,B08:4"`` (name:band), ``"B02,B03,B04,B08"`` or a list of
    names (file order), or a dict. Raises ValueError naming what is wrong.
    """
    pairs: list[tuple[str, int]] = []
    if isinstance(mapping, Mapping):
        pairs = [(str(k), int(v)) for k, v in mapping.items()]
    else:
        items = [s for s in re.split(r"[,;\s]+", mapping.strip())] if isinstance(mapping, str) \
            else [str(s) for s in mapping]
        items = [s for s in items if s]
        if not items:
            raise ValueError("the band mapping is empty; give e.g. 'B02:1,B03:2,B04:3,B08:4'")
        with_idx = [":" in s or "=" in s for s in items]
        if any(with_idx) and not all(with_idx):
            raise ValueError("mix of 'name:band' and bare names in the band mapping; use one form, "
                             "e.g. 'B02:1,B03:2' or 'B02,B03'")
        if all(with_idx):
            for s in items:
                name, _, idx = re.split(r"([:=])", s, maxsplit=1)
                try:
                    pairs.append((name, int(idx)))
                except ValueError:
                    raise ValueError(f"band mapping entry {s!r}: the band after ':' must be a "
                                     "1-based integer") from None
        else:
            pairs = [(s, i + 1) for i, s in enumerate(items)]
    out: dict[str, int] = {}
    for name, idx in pairs:
        key = canonical_band(name)
        if not key:
            raise ValueError(f"empty band name in the band mapping {mapping!r}")
        if key in out:
            raise ValueError(f"band {key} appears twice in the band mapping")
        if idx < 1:
            raise ValueError(f"band {key}: file bands are 1-based, got {idx}")
        out[key] = idx
    dup = [i for i in set(out.values()) if list(out.values()).count(i) > 1]
    if dup:
        raise ValueError(f"file band(s) {sorted(dup)} assigned to more than one name "
                         "in the band mapping")
    return out


def band_layout(
    family: str,
    count: int,
    *,
    mapping: str | Sequence[str] | Mapping[str, int] | None = None,
    descriptions: Sequence[str | None] | None = None,
) -> BandLayout:
    """How a ``count``-band layer of ``family`` maps band names to file bands.

    Precedence: an explicit ``mapping``; band ``descriptions`` when every one is a distinct
    known band name of the family; the family's standard order when the count matches.
    """
    std = STANDARD_ORDERS.get(family)
    if mapping is not None:
        parsed = parse_band_mapping(mapping)
        over = {k: v for k, v in parsed.items() if v > count}
        if over:
            raise ValueError(f"the band mapping names file band(s) {over} but the layer has "
                             f"{count} band(s)")
        if std is not None:
            unknown = [k for k in parsed if k.upper() not in {s.upper() for s in std}]
            if unknown:
                raise ValueError(f"unknown {family} band name(s) {unknown} in the band mapping; "
                                 f"known: {', '.join(std)}")
        return BandLayout(bands=tuple(parsed.items()), count=count, source="band mapping")
    if descriptions and std is not None and len(descriptions) == count:
        names = [canonical_band(d) if d else "" for d in descriptions]
        known = {s.upper(): s for s in std}
        if all(n.upper() in known for n in names) and len({n.upper() for n in names}) == count:
            return BandLayout(bands=tuple((known[n.upper()], i + 1) for i, n in enumerate(names)),
                              count=count, source="band descriptions")
    if std is None:
        raise ValueError(f"unknown layer family {family!r}; known: {sorted(STANDARD_ORDERS)}")
    if len(std) == 1:
        if count > 1:
            _log.info("%s layer has %d bands; using band 1", family, count)
        return BandLayout(bands=((std[0], 1),), count=count, source=f"standard {family} order")
    if count != len(std):
        hint = ""
        if family == "S2L2A" and count == 13:
            hint = " It has 13 bands like an L1C product (with B10): choose S2L1C, or"
        elif family == "S2L1C" and count == 12:
            hint = " It has 12 bands like an L2A product (no B10): choose S2L2A, or"
        raise ValueError(
            f"a {family} layer in the standard order has {len(std)} bands "
            f"({','.join(std)}); this layer has {count}.{hint} give a band mapping naming the "
            f"file band of each band, e.g. '{std[0]}:1,{std[1]}:2'"
        )
    return BandLayout(bands=tuple((n, i + 1) for i, n in enumerate(std)), count=count,
                      source=f"standard {family} order")


def group_bands(
    layout: BandLayout,
    groups: Mapping[str, Sequence[str]],
    *,
    partial: bool = False,
) -> dict[str, list[int]]:
    """1-based file bands for each group's band list (in the group's channel order).

    With ``partial`` groups the layer cannot feed completely are left out (they will be
    generated, not read); otherwise a missing band is a ValueError.
    """
    out: dict[str, list[int]] = {}
    for key, names in groups.items():
        idx: list[int] = []
        missing: list[str] = []
        for n in names:
            try:
                idx.append(layout.index(n))
            except KeyError:
                missing.append(n)
        if missing:
            if partial:
                _log.info("%s: layer lacks %s; the group is generated", key, ", ".join(missing))
                continue
            raise ValueError(
                f"{key} needs band(s) {', '.join(missing)}, which the layer's "
                f"{layout.source} ({', '.join(layout.names())}) does not provide; "
                "give a band mapping that names them"
            )
        out[key] = idx
    return out


S1ScaleName = Literal["db", "linear"]


@dataclass(frozen=True)
class S1Scale:
    """Whether S1 values are dB or linear power, who decided, and why (to report)."""

    scale: S1ScaleName
    source: Literal["parameter", "detected", "default"]
    reason: str


def detect_s1_scale(values: np.ndarray, *, valid: np.ndarray | None = None) -> S1Scale:
    """Tell dB from linear power by the values.

    Backscatter in dB is mostly negative (median around -10 to -20 dB); linear power is
    non-negative (tiny negatives after thermal-noise removal) with a median well below 1.
    Anything else is ambiguous and raises ValueError asking for the explicit parameter.
    """
    v = np.asarray(values, dtype=np.float64)
    if valid is not None:
        v = v[np.broadcast_to(valid, v.shape)]
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no valid S1 values to tell dB from linear power; set the S1 scale "
                         "parameter to 'db' or 'linear'")
    med = float(np.median(v))
    neg = float(np.mean(v < 0))
    if med < 0:
        return S1Scale("db", "detected", f"median {med:.3g} < 0 ({100 * neg:.0f} % negative)")
    if med <= 1.5 and (neg == 0.0 or float(np.min(v)) > -0.1):
        return S1Scale("linear", "detected", f"median {med:.3g} in [0, 1.5], "
                       f"minimum {float(np.min(v)):.3g}")
    raise ValueError(
        f"cannot tell whether the S1 layer is dB or linear power (median {med:.3g}, "
        f"{100 * neg:.0f} % negative); set the S1 scale parameter to 'db' or 'linear'"
    )


def s1_scale_of_layer(
    path: str | Path,
    bands: Sequence[int],
    *,
    override: S1ScaleName | None = None,
    nodata: float | None = None,
    max_side: int = 1024,
) -> S1Scale:
    """The S1 scale of a layer: ``override`` when given, else detected on a decimated view
    (at most ``max_side`` pixels a side, nearest, so memory stays small for any size)."""
    if override is not None:
        if override not in ("db", "linear"):
            raise ValueError(f"S1 scale must be 'db' or 'linear', got {override!r}")
        return S1Scale(override, "parameter", "set by parameter")
    with rasterio.open(path) as src:
        f = max(1, math.ceil(max(src.width, src.height) / max_side))
        shape = (len(bands), math.ceil(src.height / f), math.ceil(src.width / f))
        data = src.read(list(bands), out_shape=shape, resampling=Resampling.nearest)
        if nodata is None:
            ok = src.read_masks(list(bands), out_shape=shape, resampling=Resampling.nearest) != 0
        else:
            ok = data != nodata
    choice = detect_s1_scale(data, valid=ok)
    _log.info("S1 layer %s read as %s (%s)", path, choice.scale, choice.reason)
    return choice
