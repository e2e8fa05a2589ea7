"""Whole-raster gap fill: time per footprint and peak memory as the raster grows.

For each size (default 2000 x 2000 and 6000 x 6000 px of 10 m, four bands B04/B03/B02/B08,
int16) it writes a raster with the same handful of cloud blobs (so both sizes run a similar
number of footprints), a 30 m DEM condition, and runs ``run_fill`` with a tiny random-weight
package (``models.tiny``) in its own subprocess, so each size's RSS high-water mark
(``ru_maxrss``) is its own. The streaming design promises memory that does not grow with the
raster: the peak RSS of both sizes should match within a few tens of MB.

Usage: ``.venv/bin/python benchmarks/bench_gapfill.py [--sizes 2000 6000] [--samples 2]
[--steps 3] [--blobs 6] [--threads 2] [--workdir DIR]``. The package and rasters are kept in
``--workdir`` and reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

logger = logging.getLogger("bench_gapfill")

KEYS = ["3d_cartesian_lat_lon", "DEM_DEM", "S2L2A_B02_B03_B04_B08", "mean_timestamps"]
ORIGIN = (500_000.0, 5_100_000.0)  # UTM 32N
BLOB_RADIUS_PX = 90


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's own RSS high-water mark. Linux ``VmHWM`` (``ru_maxrss`` would carry the
    parent's peak over fork + exec); elsewhere ``ru_maxrss``."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def write_rasters(size: int, folder: Path, *, blobs: int, seed: int = 0) -> tuple[Path, Path]:
    """The target (cloud blobs as nodata) and a 30 m DEM, written strip by strip."""
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    target = folder / f"s2_{size}.tif"
    dem = folder / f"dem_{size}.tif"
    if target.exists() and dem.exists():
        return target, dem
    rng = np.random.default_rng(seed)
    margin = BLOB_RADIUS_PX + 10
    centres = rng.uniform(margin, size - margin, (blobs, 2))
    crs = CRS.from_epsg(32632)
    profile = dict(driver="GTiff", width=size, height=size, count=4, dtype="int16", crs=crs,
                   transform=Affine(10, 0, ORIGIN[0], 0, -10, ORIGIN[1]), nodata=-9999,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(target, "w", **profile) as ds:
        for r0 in range(0, size, 256):
            h = min(256, size - r0)
            yy, xx = np.mgrid[r0:r0 + h, 0:size]
            base = 900 + 500 * np.sin(yy / 37.0) * np.cos(xx / 53.0)
            data = np.stack([base + 200 * b for b in range(4)]).astype(np.int16)
            gap = np.zeros((h, size), bool)
            for cy, cx in centres:
                gap |= (yy - cy) ** 2 + (xx - cx) ** 2 < BLOB_RADIUS_PX ** 2
            data[:, gap] = -9999
            ds.write(data, window=Window(0, r0, size, h))
    n = math.ceil(size / 3)
    with rasterio.open(dem, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs=crs, transform=Affine(30, 0, ORIGIN[0], 0, -30, ORIGIN[1]),
                       tiled=True, compress="deflate") as ds:
        for r0 in range(0, n, 256):
            h = min(256, n - r0)
            yy, xx = np.mgrid[r0:r0 + h, 0:n]
            ds.write((300 + 0.05 * yy + 0.02 * xx).astype(np.float32)[None],
                     window=Window(0, r0, n, h))
    return target, dem


def worker(args: argparse.Namespace) -> None:
    """One size in this process; prints one JSON line."""
    from copgen_plugin.fill import run_fill
    from copgen_plugin.fill.request import FillOutputs, FillRequest, LayerInput

    out = args.workdir / f"out_{args.size}"
    out.mkdir(exist_ok=True)
    baseline = peak_rss_mb()
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(_: float, message: str) -> None:
        now = time.perf_counter() - t0
        if message.startswith("footprint"):
            marks.setdefault("first", now)
            marks["last"] = now
            if message.startswith("footprint 1/") and message.endswith("written"):
                marks["first_done"] = now  # the first includes creating the ORT sessions

    req = FillRequest(
        mode="gapfill", target=LayerInput(Path(args.target), "S2L2A", bands="B04,B03,B02,B08"),
        outputs=FillOutputs(out / "filled.tif", out / "spread.tif", out / "samples"),
        model=str(args.package), conditions=(LayerInput(Path(args.dem), "DEM"),),
        date=dt.date(2021, 6, 1), n_samples=args.samples, steps=args.steps, seed=1,
        device="cpu", threads=args.threads)
    report = run_fill(req, progress=progress)
    total = time.perf_counter() - t0
    gen = marks.get("last", 0.0) - marks.get("first_done", 0.0)
    first = marks.get("first_done", 0.0) - marks.get("first", 0.0)
    print(json.dumps({
        "size": args.size, "gap_pixels": report.gap_pixels,
        "footprints_run": report.footprints_run, "footprints_total": report.footprints_total,
        "total_s": total, "prepare_s": marks.get("first", total),
        "first_footprint_s": first,
        "per_footprint_s": gen / max(report.footprints_run - 1, 1),
        "finish_s": total - marks.get("last", total),
        "baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb(),
    }))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 6000])
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--blobs", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/copgen_bench_gapfill"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--target", help=argparse.SUPPRESS)
    p.add_argument("--dem", help=argparse.SUPPRESS)
    p.add_argument("--package", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args)
        return
    package = args.workdir / "tiny_package"
    if not (package / "manifest.json").exists():
        from models.tiny import build_tiny_package

        print(f"building the tiny package in {package} ...", file=sys.stderr)
        build_tiny_package(package, KEYS, seed=0)
    rows = []
    for size in args.sizes:
        target, dem = write_rasters(size, args.workdir, blobs=args.blobs)
        cmd = [sys.executable, __file__, "--worker", "--size", str(size), "--target",
               str(target), "--dem", str(dem), "--package", str(package), "--workdir",
               str(args.workdir), "--samples", str(args.samples), "--steps", str(args.steps),
               "--threads", str(args.threads)]
        print(f"running {size} x {size} ...", file=sys.stderr)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{size}: worker failed\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"gap fill, tiny package ({', '.join(KEYS)}), N={args.samples}, steps={args.steps}, "
          f"{args.threads} threads, {args.blobs} cloud blobs of radius {BLOB_RADIUS_PX} px")
    head = ("raster", "gap px", "footprints run", "plan + copy s", "first footprint s",
            "per footprint s", "commit s", "total s", "RSS at start MB", "peak RSS MB")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(" | ".join([
            f"{r['size']} x {r['size']}", f"{r['gap_pixels']}",
            f"{r['footprints_run']} of {r['footprints_total']}", f"{r['prepare_s']:.1f}",
            f"{r['first_footprint_s']:.2f}", f"{r['per_footprint_s']:.2f}",
            f"{r['finish_s']:.1f}", f"{r['total_s']:.1f}",
            f"{r['baseline_rss_mb']:.0f}", f"{r['peak_rss_mb']:.0f}"]))
    if len(rows) > 1:
        growth = rows[-1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
        print(f"peak RSS change from the smallest to the largest raster: {growth:+.0f} MB")


if __name__ == "__main__":
    main()
