"""Write the demo's sample scene (``resources/demo/``) from the synthetic world, from a seed.

Why these choices: the area is 3 x 4 demo footprints (480 m) so the pipeline's tiling and seams
show;
the CRS is a real UTM zone with 30 m-aligned origin so the 10 m and 30 m grids nest exactly; the
cloud gap is a thresholded fractal blob (cloud-shaped, not a rectangle) crossing a footprint
seam. The seed is a held-out one (never seen in training).

CLI: ``python -m models.demo.make_scene --out resources/demo [--seed N]``
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from models.demo.data import HELD_OUT_SEED
from models.demo.world import (
    CLASS_NAMES,
    DEM_PIXEL_M,
    PIXEL_M,
    S1_BANDS,
    S2_BANDS,
    Scene,
    fractal_field,
    generate_scene,
)

log = logging.getLogger(__name__)

DEFAULT_SEED = HELD_OUT_SEED + 58
HEIGHT_PX, WIDTH_PX = 144, 192  # 3 x 4 demo footprints of 48 px (1.5 x 2 of 96 px)
EPSG = 32631
ORIGIN = (499_980.0, 5_400_000.0)  # west, north: multiples of 30 m, near 48.7 N 3.0 E
S2_NODATA = 0
DEM_NODATA = -9999.0
_PROFILE = {"driver": "GTiff", "compress": "deflate", "tiled": False}


def cloud_gap(seed: int, height: int, width: int, cover: float = 0.16) -> np.ndarray:
    """A cloud-shaped gap mask (True = cloud): fractal noise under a soft elliptic envelope."""
    rng = np.random.default_rng([seed, 4242])
    noise = fractal_field(rng, height, width, 2.8)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = height * 0.45, width * 0.52  # across footprint seams
    env = np.exp(-(((yy - cy) / (0.28 * height)) ** 2 + ((xx - cx) / (0.22 * width)) ** 2))
    score = 1.6 * env + 0.35 * noise
    return score > np.quantile(score, 1.0 - cover)


def _write(path: Path, array: np.ndarray, pixel_m: float, *, nodata: float | None,
           descriptions: Sequence[str], tags: dict[str, str]) -> None:
    bands, h, w = array.shape
    transform = Affine(pixel_m, 0.0, ORIGIN[0], 0.0, -pixel_m, ORIGIN[1])
    profile = dict(_PROFILE, height=h, width=w, count=bands, dtype=str(array.dtype),
                   crs=CRS.from_epsg(EPSG), transform=transform, nodata=nodata)
    if array.dtype.kind in "iu":
        profile["predictor"] = 2
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        for i, d in enumerate(descriptions, start=1):
            dst.set_band_description(i, d)
        dst.update_tags(**tags)


def write_scene(out: Path, seed: int = DEFAULT_SEED) -> Scene:
    """Generate the scene and write the five GeoTIFFs plus ``scene.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    scene = generate_scene(seed, HEIGHT_PX, WIDTH_PX)
    gap = cloud_gap(seed, HEIGHT_PX, WIDTH_PX)
    common = {"generator": "models/demo/world.py", "seed": str(seed), "synthetic": "yes"}
    s2_tags = {**common, "units": "L2A DN = surface reflectance x 10000", "scale": "10000"}
    _write(out / "s2l2a_truth.tif", scene.s2, PIXEL_M, nodata=S2_NODATA,
           descriptions=S2_BANDS, tags=s2_tags)
    gappy = scene.s2.copy()
    gappy[:, gap] = S2_NODATA
    _write(out / "s2l2a.tif", gappy, PIXEL_M, nodata=S2_NODATA, descriptions=S2_BANDS,
           tags={**s2_tags, "gap": "cloud-shaped gap of nodata (synthetic cloud)"})
    _write(out / "s1rtc.tif", scene.s1, PIXEL_M, nodata=None, descriptions=S1_BANDS,
           tags={**common, "units": "gamma0 linear power (not dB)", "s1_in_db": "false"})
    _write(out / "lulc.tif", scene.lulc[None], PIXEL_M, nodata=0, descriptions=("LULC",),
           tags={**common, "codes": json.dumps({str(k): v for k, v in CLASS_NAMES.items()}),
                 "numbering": "Esri 10 m land cover"})
    _write(out / "dem.tif", scene.dem[None], DEM_PIXEL_M, nodata=DEM_NODATA,
           descriptions=("DEM",), tags={**common, "units": "metres above sea level"})
    meta = {"seed": seed, "epsg": EPSG, "origin_west_north": ORIGIN,
            "size_px_10m": [HEIGHT_PX, WIDTH_PX], "gap_fraction": float(gap.mean()),
            "params": asdict(scene.params)}
    (out / "scene.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info("scene %d written to %s (gap %.1f %%)", seed, out, 100 * gap.mean())
    return scene


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.demo.make_scene", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("resources/demo"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    write_scene(args.out, args.seed)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
