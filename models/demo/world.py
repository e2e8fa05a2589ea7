"""A procedural world whose randomness is known: terrain, land cover, Sentinel-2 and Sentinel-1.

Why synthetic: the demo model must be trainable on a laptop without COP-GEN's data, and a
generator that knows which of its random draws a condition determines gives a ground truth for
the *distribution* of plausible observations, which is what COP-GEN's samples should reproduce.

The randomness is split into named streams so a benchmark can redraw only what the conditions
leave open (:data:`STREAMS`):

* ``params``  scene-wide draws: elevation range, sun angle, season, haze, soil wetness;
* ``terrain`` the fractal relief (the DEM);
* ``cover``   land cover given the relief, field parcels and their crop state;
* ``optical`` Sentinel-2 texture, per-field brightness and sensor noise;
* ``radar``   Sentinel-1 speckle.

Units are the plugin's physical ones: DEM metres (30 m pixels), Esri land-cover codes, S2 L2A
DN = reflectance x 10000 (B04, B03, B02, B08) and S1 gamma0 linear power (vv, vh), 10 m pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

PIXEL_M = 10.0
DEM_PIXEL_M = 30.0
DEM_FACTOR = 3  # 10 m pixels per 30 m DEM pixel
FOOTPRINT_PX = 48  # 480 m at 10 m: the demo model's footprint (a quarter of COP-GEN's cost)
STREAMS = ("params", "terrain", "cover", "optical", "radar")

WATER, TREES, CROPS, BUILT, BARE, RANGELAND = 1, 2, 5, 7, 8, 11
CLASS_CODES = (WATER, TREES, CROPS, BUILT, BARE, RANGELAND)
CLASS_NAMES = {WATER: "Water", TREES: "Trees", CROPS: "Crops", BUILT: "Built-up areas",
               BARE: "Bare ground", RANGELAND: "Rangeland"}
S2_BANDS = ("B04", "B03", "B02", "B08")
S1_BANDS = ("vv", "vh")

# surface reflectance (B04, B03, B02, B08): dormant / green end-members per class
_SPECTRA: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {
    WATER: ((0.030, 0.050, 0.070, 0.020), (0.030, 0.055, 0.065, 0.025)),
    TREES: ((0.050, 0.060, 0.040, 0.200), (0.030, 0.060, 0.030, 0.330)),
    CROPS: ((0.160, 0.130, 0.100, 0.240), (0.040, 0.080, 0.040, 0.430)),
    BUILT: ((0.150, 0.140, 0.130, 0.190), (0.150, 0.140, 0.130, 0.190)),
    BARE: ((0.240, 0.200, 0.160, 0.280), (0.240, 0.200, 0.160, 0.280)),
    RANGELAND: ((0.120, 0.110, 0.080, 0.220), (0.060, 0.080, 0.050, 0.300)),
}
_HAZE_COLOUR = np.array([0.55, 0.75, 1.0, 0.35], np.float32)  # path radiance, blue strongest
# gamma0 in dB (vv, vh): bare-soil-like / fully green end-members per class
_BACKSCATTER_DB: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {
    WATER: ((-21.0, -28.0), (-21.0, -28.0)),
    TREES: ((-8.0, -14.5), (-7.0, -13.0)),
    CROPS: ((-13.0, -21.0), (-8.5, -14.5)),
    BUILT: ((-3.0, -10.0), (-3.0, -10.0)),
    BARE: ((-13.5, -23.0), (-13.5, -23.0)),
    RANGELAND: ((-11.5, -19.0), (-9.5, -16.0)),
}
S1_LOOKS = 4.0  # equivalent number of looks of the speckle (gamma distributed, mean 1)
S1_INCIDENCE_DEG = 37.0
S1_LOOK_AZIMUTH_DEG = 90.0  # ground-to-sensor direction is the opposite (sensor in the west)


@dataclass(frozen=True)
class SceneParams:
    """Scene-wide random draws (the ``params`` stream)."""

    base_m: float
    relief_m: float
    roughness: float  # spectral exponent of the relief; larger = smoother
    water_fraction: float  # share of the lowest ground flooded into lakes (0 = none)
    sun_azimuth_deg: float  # clockwise from north
    sun_elevation_deg: float
    season: float  # vegetation greenness, 0 winter .. 1 summer
    haze: float  # 0 clear .. 1 hazy
    wetness_db: float  # soil moisture offset of S1 over soil-dominated classes
    water_wind_db: float  # wind roughening of water in S1


@dataclass
class Scene:
    """One synthetic scene; arrays are north-up, row 0 is the northern edge."""

    params: SceneParams
    elevation: np.ndarray  # (H, W) float32 metres at 10 m
    dem: np.ndarray  # (H/3, W/3) float32 metres at 30 m
    lulc: np.ndarray  # (H, W) uint8 Esri codes
    greenness: np.ndarray  # (H, W) float32 crop/vegetation state shared by S1 and S2
    s2: np.ndarray  # (4, H, W) uint16 DN, bands B04, B03, B02, B08
    s1: np.ndarray  # (2, H, W) float32 gamma0 linear, bands vv, vh


def stream_rng(seed: int, stream: str, overrides: Mapping[str, int] | None = None
               ) -> np.random.Generator:
    """Independent generator per stream; ``overrides`` re-seeds chosen streams."""
    if overrides and stream in overrides:
        return np.random.default_rng([int(overrides[stream]), STREAMS.index(stream), 7919])
    return np.random.default_rng([int(seed), STREAMS.index(stream)])


def draw_params(rng: np.random.Generator) -> SceneParams:
    return SceneParams(
        base_m=float(rng.uniform(5.0, 400.0)),  # lowlands: log1p keeps the relief visible
        relief_m=float(rng.uniform(15.0, 220.0)),
        roughness=float(rng.uniform(3.0, 4.2)),
        water_fraction=float(rng.uniform(0.02, 0.25)) if rng.random() < 0.45 else 0.0,
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        sun_elevation_deg=float(rng.uniform(20.0, 65.0)),
        season=float(rng.uniform(0.0, 1.0)),
        haze=float(rng.uniform(0.0, 1.0) ** 2),
        wetness_db=float(rng.normal(0.0, 1.5)),
        water_wind_db=float(rng.normal(0.0, 2.5)),
    )


def fractal_field(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std noise with power spectrum ~ k^-beta (a crop avoids FFT wrap-around)."""
    n = int(math.ceil(max(height, width) * 1.5 / 2) * 2)
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(n)[None, :]
    k = np.sqrt(fx * fx + fy * fy)
    k[0, 0] = np.inf
    spectrum = np.fft.fft2(rng.standard_normal((n, n))) * k ** (-beta / 2.0)
    field = np.fft.ifft2(spectrum).real[:height, :width]
    return ((field - field.mean()) / (field.std() + 1e-12)).astype(np.float32)


def slope_aspect_normal(elevation: np.ndarray, pixel_m: float = PIXEL_M
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope (degrees) and the unit surface normal's east/north/up components (3, H, W)."""
    d_row, d_col = np.gradient(elevation.astype(np.float64), pixel_m)
    dz_east, dz_north = d_col, -d_row  # rows run southward
    norm = np.sqrt(1.0 + dz_east ** 2 + dz_north ** 2)
    normal = np.stack([-dz_east / norm, -dz_north / norm, 1.0 / norm]).astype(np.float32)
    slope = np.degrees(np.arccos(np.clip(normal[2], -1.0, 1.0))).astype(np.float32)
    return slope, normal, norm.astype(np.float32)


def direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector (east, north, up) towards azimuth (clockwise from north) and elevation."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)],
                    np.float32)


def illumination(elevation: np.ndarray, sun_azimuth_deg: float, sun_elevation_deg: float,
                 diffuse: float) -> np.ndarray:
    """Relief shading: direct cos(i)/cos(zenith) plus a diffuse share (1 on flat ground)."""
    _, normal, _ = slope_aspect_normal(elevation)
    sun = direction(sun_azimuth_deg, sun_elevation_deg)
    cos_i = np.clip(np.tensordot(sun, normal, axes=1), 0.0, None)
    return ((1.0 - diffuse) * cos_i / sun[2] + diffuse).astype(np.float32)


def make_terrain(rng: np.random.Generator, p: SceneParams, height: int, width: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (m) at 10 m and the lake mask; lakes are flat at their water level."""
    field = fractal_field(rng, height, width, p.roughness)
    field += 0.05 * fractal_field(rng, height, width, 2.0)  # small-scale roughness
    unit = (field - field.min()) / (np.ptp(field) + 1e-12)
    elevation = p.base_m + p.relief_m * unit
    water = np.zeros(elevation.shape, bool)
    if p.water_fraction > 0:
        level = float(np.quantile(elevation, p.water_fraction))
        water = elevation <= level
        elevation = np.maximum(elevation, level)
    return elevation.astype(np.float32), water


def parcels(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Field parcel ids (H, W): a randomly rotated grid of rectangles 12-32 px on a side."""
    theta = rng.uniform(0.0, math.pi)
    sx, sy = rng.uniform(12.0, 32.0, size=2)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u = xx * math.cos(theta) + yy * math.sin(theta) + rng.uniform(0, 100)
    v = -xx * math.sin(theta) + yy * math.cos(theta) + rng.uniform(0, 100)
    key = np.floor(u / sx).astype(np.int64) * 100_003 + np.floor(v / sy).astype(np.int64)
    return np.unique(key, return_inverse=True)[1].reshape(height, width)


def _parcel_mean(values: np.ndarray, pid: np.ndarray) -> np.ndarray:
    sums = np.bincount(pid.ravel(), weights=values.ravel().astype(np.float64))
    counts = np.bincount(pid.ravel())
    return (sums / np.maximum(counts, 1))[pid].astype(np.float32)


def make_cover(rng: np.random.Generator, p: SceneParams, elevation: np.ndarray,
               water: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Land cover from relief plus smooth random preferences, and per-pixel greenness."""
    h, w = elevation.shape
    slope, _, _ = slope_aspect_normal(elevation)
    rel = (elevation - elevation.min()) / (np.ptp(elevation) + 1e-6)
    moist = fractal_field(rng, h, w, 2.6)
    urban = fractal_field(rng, h, w, 2.3)
    wild = fractal_field(rng, h, w, 2.5)
    bias = rng.normal(0.0, 0.45, size=5)
    pid = parcels(rng, h, w)
    flat = np.exp(-slope / 7.0)
    crop_score = 1.3 * flat - 0.9 * rel - 0.35 * wild + 0.2 * moist + 0.25 + bias[1]
    scores = np.stack([
        0.9 * wild + 0.035 * slope + 0.4 * rel + 0.3 * moist - 0.45 + bias[0],  # trees
        _parcel_mean(crop_score, pid),  # crops follow field boundaries
        1.5 * (urban - 1.1) + 0.9 * flat - 0.8 * rel + bias[2],  # built
        4.0 * (rel - 0.8) + 0.08 * (slope - 22.0) + bias[3],  # bare
        0.25 - 0.3 * moist + 0.2 * rel + bias[4],  # rangeland
    ])
    codes = np.array([TREES, CROPS, BUILT, BARE, RANGELAND], np.uint8)
    lulc = codes[np.argmax(scores, axis=0)]
    lulc[water] = WATER
    # greenness: season x per-parcel crop stage for crops, season x local vigour otherwise
    stage = rng.uniform(0.0, 1.4, size=int(pid.max()) + 1)[pid]
    vigour = 1.0 + 0.25 * fractal_field(rng, h, w, 2.0)
    green = np.where(lulc == CROPS, p.season * stage, p.season * vigour)
    return lulc, np.clip(green, 0.0, 1.0).astype(np.float32)


def class_mix(table: Mapping[int, tuple[tuple[float, ...], tuple[float, ...]]],
              lulc: np.ndarray, greenness: np.ndarray) -> np.ndarray:
    """(C, H, W) float32: per class, its dormant values blended into its green ones by the
    pixel's greenness (S2 spectra and S1 backscatter are both built this way)."""
    channels = len(next(iter(table.values()))[0])
    out = np.zeros((channels, *lulc.shape), np.float32)
    for code, (dormant, green) in table.items():
        m = lulc == code
        if m.any():
            g = greenness[m]
            d, gr = np.asarray(dormant, np.float32), np.asarray(green, np.float32)
            out[:, m] = d[:, None] * (1.0 - g) + gr[:, None] * g
    return out


def make_s2(rng: np.random.Generator, p: SceneParams, elevation: np.ndarray, lulc: np.ndarray,
            greenness: np.ndarray) -> np.ndarray:
    """S2 L2A DN (B04, B03, B02, B08): class spectra, texture, shading, haze, sensor noise."""
    h, w = lulc.shape
    refl = class_mix(_SPECTRA, lulc, greenness)
    pid = parcels(rng, h, w)
    field_gain = 1.0 + 0.07 * rng.standard_normal(int(pid.max()) + 1)[pid]
    texture = 1.0 + 0.06 * fractal_field(rng, h, w, 1.8)
    grain = np.where(lulc == BUILT, 0.18, 0.025)
    gain = field_gain * texture * (1.0 + grain * rng.standard_normal((h, w)))
    refl *= np.clip(gain, 0.3, None)[None]
    diffuse = 0.15 + 0.35 * p.haze
    refl *= illumination(elevation, p.sun_azimuth_deg, p.sun_elevation_deg, diffuse)[None]
    toa = refl * (1.0 - 0.25 * p.haze) + (0.07 * p.haze) * _HAZE_COLOUR[:, None, None]
    toa += 0.002 * rng.standard_normal(toa.shape).astype(np.float32)
    return np.clip(np.round(toa * 10000.0), 1, 10000).astype(np.uint16)


def make_s1(rng: np.random.Generator, p: SceneParams, elevation: np.ndarray, lulc: np.ndarray,
            greenness: np.ndarray) -> np.ndarray:
    """S1 gamma0 linear (vv, vh): class backscatter, residual terrain effect, gamma speckle."""
    db = class_mix(_BACKSCATTER_DB, lulc, greenness)
    soil_like = np.isin(lulc, (CROPS, BARE, RANGELAND))
    db += np.where(soil_like, p.wetness_db, 0.0)[None]
    db += np.where(lulc == WATER, p.water_wind_db, 0.0)[None]
    _, normal, _ = slope_aspect_normal(elevation)
    sensor = direction(S1_LOOK_AZIMUTH_DEG + 180.0, 90.0 - S1_INCIDENCE_DEG)
    cos_local = np.clip(np.tensordot(sensor, normal, axes=1), 0.1, None)
    db += 6.0 * np.log10(cos_local / sensor[2])[None]  # what terrain flattening leaves
    linear = 10.0 ** (db / 10.0)
    speckle = rng.gamma(S1_LOOKS, 1.0 / S1_LOOKS, size=linear.shape)
    return (linear * speckle).astype(np.float32)


def block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    h, w = a.shape
    return a.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def generate_scene(seed: int, height: int = FOOTPRINT_PX, width: int | None = None, *,
                   overrides: Mapping[str, int] | None = None,
                   params: SceneParams | None = None) -> Scene:
    """One scene of ``height`` x ``width`` 10 m pixels (multiples of 3 for the 30 m DEM).

    ``overrides`` re-seeds chosen streams (e.g. ``{"optical": k}``: another plausible S2 of
    the same ground); ``params`` replaces the scene-wide draws.
    """
    width = height if width is None else width
    if height % DEM_FACTOR or width % DEM_FACTOR:
        raise ValueError(f"scene size {height}x{width} must be a multiple of {DEM_FACTOR}")
    p = params or draw_params(stream_rng(seed, "params", overrides))
    elevation, water = make_terrain(stream_rng(seed, "terrain", overrides), p, height, width)
    lulc, green = make_cover(stream_rng(seed, "cover", overrides), p, elevation, water)
    s2 = make_s2(stream_rng(seed, "optical", overrides), p, elevation, lulc, green)
    s1 = make_s1(stream_rng(seed, "radar", overrides), p, elevation, lulc, green)
    dem = block_mean(elevation, DEM_FACTOR).astype(np.float32)
    return Scene(p, elevation, dem, lulc, green, s2, s1)
