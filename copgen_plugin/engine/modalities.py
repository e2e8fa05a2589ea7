"""Modality specifications and the exact pre-/post-processing of COP-GEN.

The formulas are those of the official ``pre_process_data`` / ``post_process_data``
(COPGEN_REFERENCE.md sections 1.3 and 1.4), computed in float32 in the same order so the
results match the official outputs to float32 round-off. They are driven by the manifest's
``normalisation`` kind and constants, never by substring tests on the key.

Conventions (physical units in, physical units out):

* image modalities take raw arrays ``(..., C_raw, H, W)`` with the bands in the manifest's
  channel order (``C_raw`` = number of bands; 1 for the categorical ones, which hold codes);
* ``lat_lon`` takes ``(lat, lon)`` in degrees, ``timestamps`` takes a :class:`datetime.date`;
* :func:`denormalise` returns S2 DN, S1 linear power (gamma0), DEM metres, integer class codes
  ``(..., 1, H, W)``, ``[lat, lon]`` degrees ``(B, 1, 1, 2)`` or ``[day, month, year]``
  ``(B, 1, 1, 3)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..arrays import db_to_linear, linear_to_db
from ..errors import InputError, ModalityError

logger = logging.getLogger(__name__)

FAMILIES = ("S2L2A", "S2L1C", "S1RTC", "DEM", "LULC", "cloud_mask", "lat_lon", "timestamps")

#: normalisation kind -> the families that may use it
NORMALISATION_FAMILIES: dict[str, tuple[str, ...]] = {
    "reflectance": ("S2L2A", "S2L1C"),
    "log_db_minmax": ("S1RTC",),
    "log1p_minmax": ("DEM",),
    "onehot": ("LULC", "cloud_mask"),
    "latlon_xyz": ("lat_lon",),
    "date_sincos_year": ("timestamps",),
}

#: constants each normalisation kind needs from the manifest
REQUIRED_CONSTANTS: dict[str, tuple[str, ...]] = {
    "reflectance": ("scale",),
    "log_db_minmax": ("min_db", "max_db", "min_positive"),
    "log1p_minmax": ("min_db", "max_db", "min_positive"),
    "onehot": ("codes",),
    "latlon_xyz": (),
    "date_sincos_year": ("year_min", "year_max"),
}

#: TerraMind / TerraMesh LULC numbering (shared sample data) -> COP-GEN's Esri numbering.
TERRAMIND_TO_ESRI_LULC: dict[int, int] = {3: 4, 4: 5, 5: 7, 6: 8, 7: 9, 8: 10, 9: 11}


@dataclass(frozen=True)
class Normalisation:
    """How one modality maps physical values to the network space (manifest ``normalisation``)."""

    kind: str
    constants: Mapping[str, Any] = field(default_factory=dict)

    def const(self, name: str) -> Any:
        return self.constants[name]


@dataclass(frozen=True)
class ModalitySpec:
    """One row of the package's modality table (see docs/MODEL_PACKAGE.md)."""

    key: str
    kind: str  # "image" or "scalar"
    family: str
    bands: tuple[str, ...]
    image_shape: tuple[int, int, int]
    latent_shape: tuple[int, int, int]
    normalisation: Normalisation
    scale_factor: float | None = None
    pixel_size_m: float | None = None
    encoder: str | None = None
    decoder: str | None = None

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @property
    def is_categorical(self) -> bool:
        return self.normalisation.kind == "onehot"

    @property
    def raw_channels(self) -> int:
        """Channels of the physical raster: one code band for categorical modalities."""
        return 1 if self.is_categorical else len(self.bands)

    @property
    def latent_size(self) -> int:
        c, h, w = self.latent_shape
        return c * h * w

    @property
    def downsampling(self) -> int:
        """Image pixels per latent cell along one axis (8 for the COP-GEN VAEs)."""
        return self.image_shape[1] // self.latent_shape[1]


# --------------------------------------------------------------------------------------------
# code remapping


def remap_codes(codes: np.ndarray, mapping: Mapping[int, int] | None) -> np.ndarray:
    """Apply a class-code mapping simultaneously (3->4 and 4->5 do not chain)."""
    codes = np.asarray(codes)
    if not mapping:
        return codes
    out = codes.astype(np.int64, copy=True)
    for src, dst in mapping.items():
        out[codes == src] = dst
    return out


def invert_code_remap(mapping: Mapping[int, int]) -> dict[int, int]:
    """Inverse of an injective code mapping, to write outputs in the caller's numbering."""
    inverse = {dst: src for src, dst in mapping.items()}
    if len(inverse) != len(mapping):
        raise InputError("the code remap is not one-to-one, so it cannot be inverted")
    return inverse


# --------------------------------------------------------------------------------------------
# pre-processing


def _as_float32(raw: Any) -> np.ndarray:
    return np.asarray(raw).astype(np.float32)


def _check_image_raw(spec: ModalitySpec, raw: np.ndarray) -> None:
    if raw.ndim < 3:
        raise InputError(f"{spec.key}: raw image must be (..., C, H, W), got shape {raw.shape}")
    expected = (spec.raw_channels, spec.image_shape[1], spec.image_shape[2])
    if tuple(raw.shape[-3:]) != expected:
        raise InputError(
            f"{spec.key}: raw image has shape {tuple(raw.shape[-3:])} (C, H, W), "
            f"expected {expected} ({', '.join(spec.bands)})"
        )


def _log_minmax(values: np.ndarray, norm: Normalisation, log_fn: Any) -> np.ndarray:
    min_pos = norm.const("min_positive")
    min_db, max_db = norm.const("min_db"), norm.const("max_db")
    v = np.where(values <= 0, np.float32(min_pos), values).astype(np.float32)
    d = log_fn(v)
    u = (d - np.float32(min_db)) / np.float32(max_db - min_db)
    return (u * np.float32(2.0) - np.float32(1.0)).astype(np.float32)


def normalise_image(
    spec: ModalitySpec,
    raw: Any,
    *,
    s1_in_db: bool = False,
    code_remap: Mapping[int, int] | None = None,
    check_shape: bool = True,
) -> np.ndarray:
    """Physical raster ``(..., C_raw, H, W)`` -> network input ``(..., C_img, H, W)`` float32.

    ``s1_in_db`` converts S1 input given in dB to linear power first (10^(v/10)), as the
    official ``in_db=True``. ``code_remap`` maps the caller's class codes to the model's
    before the one-hot encoding (e.g. :data:`TERRAMIND_TO_ESRI_LULC`).
    """
    raw = np.asarray(raw)
    if check_shape:
        _check_image_raw(spec, raw)
    norm = spec.normalisation
    kind = norm.kind
    if kind == "reflectance":
        x = _as_float32(raw) / np.float32(norm.const("scale"))
        return (x * np.float32(2.0) - np.float32(1.0)).astype(np.float32)
    if kind == "log_db_minmax":
        v = _as_float32(raw)
        if s1_in_db:
            v = db_to_linear(v)
        return _log_minmax(v, norm, lambda a: linear_to_db(a, floor=None))
    if kind == "log1p_minmax":
        return _log_minmax(_as_float32(raw), norm, np.log1p)
    if kind == "onehot":
        codes = remap_codes(raw, code_remap)[..., 0, :, :]
        channels = np.zeros(codes.shape, dtype=np.int64)  # unknown codes -> channel 0
        for ch, code in enumerate(norm.const("codes")):
            channels[codes == code] = ch
        n = len(norm.const("codes"))
        onehot = channels[..., None, :, :] == np.arange(n).reshape(n, 1, 1)
        return (onehot.astype(np.float32) * np.float32(2.0) - np.float32(1.0)).astype(np.float32)
    raise ModalityError(f"{spec.key}: normalisation kind {kind!r} is not an image kind")


def encode_lat_lon(lat: float, lon: float) -> np.ndarray:
    """(lat, lon) degrees -> unit vector (x, y, z), shape (1, 1, 1, 3) float32, not rescaled."""
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0:
        raise InputError(f"invalid latitude/longitude ({lat}, {lon})")
    phi, lam = math.radians(lat), math.radians(lon)
    xyz = [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)]
    return np.asarray(xyz, dtype=np.float32).reshape(1, 1, 1, 3)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def utc_date(value: dt.date | dt.datetime) -> dt.date:
    """The calendar date in UTC: aware datetimes are converted, naive ones are taken as UTC.

    The official pre-processor used local time (``datetime.fromtimestamp``), which made the
    encoding depend on the machine's time zone; the engine never does.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise InputError(f"a date is needed, got {type(value).__name__}")


def date_from_posix(seconds: float) -> dt.date:
    """POSIX seconds -> the UTC calendar date."""
    return dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC).date()


def encode_date(
    value: dt.date | dt.datetime, *, year_min: int = 1950, year_max: int = 2050
) -> np.ndarray:
    """Date -> (sin(2pi doy/D), cos(2pi doy/D), year in [-1, 1]), shape (1, 1, 1, 3) float32."""
    day = utc_date(value)
    doy = day.timetuple().tm_yday
    days = 366 if _is_leap(day.year) else 365
    year_norm = 2 * ((day.year - year_min) / (year_max - year_min)) - 1
    vec = [math.sin(2 * math.pi * doy / days), math.cos(2 * math.pi * doy / days), year_norm]
    return np.asarray(vec, dtype=np.float32).reshape(1, 1, 1, 3)


def normalise(
    spec: ModalitySpec,
    value: Any,
    *,
    s1_in_db: bool = False,
    code_remap: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Physical value of any modality -> network input (images keep leading batch axes).

    ``lat_lon``: a ``(lat, lon)`` pair or an array ``(B, 2)``; ``timestamps``: a date or a
    sequence of dates. Scalars come back as ``(B, 1, 1, 3)``.
    """
    kind = spec.normalisation.kind
    if kind == "latlon_xyz":
        pairs = np.asarray(value, dtype=np.float64).reshape(-1, 2)
        return np.concatenate([encode_lat_lon(float(a), float(b)) for a, b in pairs])
    if kind == "date_sincos_year":
        dates = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        y0, y1 = spec.normalisation.const("year_min"), spec.normalisation.const("year_max")
        return np.concatenate([encode_date(d, year_min=y0, year_max=y1) for d in dates])
    return normalise_image(spec, value, s1_in_db=s1_in_db, code_remap=code_remap)


# --------------------------------------------------------------------------------------------
# post-processing


def _exp_minmax(u: np.ndarray, norm: Normalisation, exp_fn: Any) -> np.ndarray:
    min_db, max_db = norm.const("min_db"), norm.const("max_db")
    u = np.clip(u, np.float32(0.0), np.float32(1.0))
    d = u * np.float32(max_db - min_db) + np.float32(min_db)
    v = exp_fn(d.astype(np.float32))
    return np.maximum(v, np.float32(norm.const("min_positive"))).astype(np.float32)


def decode_lat_lon(x: np.ndarray) -> np.ndarray:
    """(B, 1, 1, 3) xyz -> (B, 1, 1, 2) [lat, lon] degrees; the vector is not renormalised."""
    x = np.asarray(x, dtype=np.float32)
    flat = x.reshape(-1, 3)
    z = flat[:, 2]
    if np.any(np.abs(z) > 1):
        logger.warning("lat/lon vector has |z| > 1 (%s); clipping to [-1, 1]", z)
        z = np.clip(z, np.float32(-1.0), np.float32(1.0))
    rad2deg = np.float32(180.0) / np.float32(np.pi)
    lat = np.arcsin(z) * rad2deg
    lon = np.arctan2(flat[:, 1], flat[:, 0]) * rad2deg
    return np.stack([lat, lon], axis=-1).astype(np.float32).reshape(x.shape[0], 1, 1, 2)


def decode_date_vector(
    sin_doy: float, cos_doy: float, year_norm: float, *, year_min: int = 1950, year_max: int = 2050
) -> dt.date:
    """Invert :func:`encode_date` as the official decoder does (round half to even).

    Years outside the encoding's range are kept, as the official decoder keeps them (1.02 ->
    2051), except those no calendar date has: a random-weight model can emit year_norm -52
    (year -633), on which the official decoder fails; such a year is clipped to 1..9999 with
    a warning, as :func:`decode_lat_lon` clips z.
    """
    year = round(((year_norm + 1) / 2) * (year_max - year_min) + year_min)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        logger.warning("generated year %d has no calendar date; clipping to %d..%d", year,
                       dt.MINYEAR, dt.MAXYEAR)
        year = min(max(year, dt.MINYEAR), dt.MAXYEAR)
    days = 366 if _is_leap(year) else 365
    angle = math.atan2(sin_doy, cos_doy)
    if angle < 0:
        angle += 2 * math.pi
    doy = round(angle * days / (2 * math.pi)) % days
    if doy == 0:
        doy = days
    return dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)


def decode_dates(x: np.ndarray, *, year_min: int = 1950, year_max: int = 2050) -> np.ndarray:
    """(B, 1, 1, 3) vectors -> (B, 1, 1, 3) int64 [day, month, year]."""
    x = np.asarray(x, dtype=np.float32)
    rows = []
    for s, c, y in x.reshape(-1, 3).tolist():
        d = decode_date_vector(s, c, y, year_min=year_min, year_max=year_max)
        rows.append([d.day, d.month, d.year])
    return np.asarray(rows, dtype=np.int64).reshape(x.shape[0], 1, 1, 3)


def denormalise(
    spec: ModalitySpec, x: np.ndarray, *, code_remap: Mapping[int, int] | None = None
) -> np.ndarray:
    """Network output -> physical values (see the module docstring for units and shapes).

    ``code_remap`` maps the model's class codes to the caller's numbering on the way out.
    """
    norm = spec.normalisation
    kind = norm.kind
    x = np.asarray(x, dtype=np.float32)
    if kind == "latlon_xyz":
        return decode_lat_lon(x)
    if kind == "date_sincos_year":
        return decode_dates(x, year_min=norm.const("year_min"), year_max=norm.const("year_max"))
    u = (x + np.float32(1.0)) / np.float32(2.0)
    if kind == "reflectance":
        return (u * np.float32(norm.const("scale"))).astype(np.float32)
    if kind == "log_db_minmax":
        return _exp_minmax(u, norm, db_to_linear)
    if kind == "log1p_minmax":
        return _exp_minmax(u, norm, np.expm1)
    if kind == "onehot":
        idx = np.argmax(u, axis=-3)[..., None, :, :]  # ties -> first channel, as torch.argmax
        codes = np.asarray(norm.const("codes"), dtype=np.int64)[idx]
        return remap_codes(codes, code_remap) if code_remap else codes
    raise ModalityError(f"{spec.key}: unknown normalisation kind {kind!r}")
