"""The demo's picture: the input with its gap, three samples, the filled layer and the spread.

Reads the GeoTIFFs `make demo` wrote (true colour from the B04/B03/B02 band descriptions) and
writes one PNG, zoomed to the gaps with observed context around them; the truth panel is added
when a gap-free reference is given.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.geo.baseline import distance_to_observed, fill_nodata  # noqa: E402

log = logging.getLogger("quicklook")


def true_colour(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) float RGB of B04/B03/B02 and the (H, W) nodata mask."""
    with rasterio.open(path) as ds:
        names = [d or "" for d in ds.descriptions]
        bands = [names.index(b) + 1 for b in ("B04", "B03", "B02")]
        rgb = ds.read(bands).astype(np.float32)
        invalid = ds.read_masks(bands[0]) == 0
    return np.moveaxis(rgb, 0, -1), invalid


def stretch(images: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
    """One 2-98 % stretch for every panel, so samples compare fairly."""
    valid = np.concatenate([img[~m] for img, m in zip(images, masks, strict=True)])
    low, high = np.percentile(valid, 2, axis=0), np.percentile(valid, 98, axis=0)
    out = []
    for img, mask in zip(images, masks, strict=True):
        x = np.clip((img - low) / np.maximum(high - low, 1e-6), 0, 1)
        x[mask] = (1.0, 0.0, 1.0)  # the gap in magenta
        out.append(x)
    return out


def spread_of_b04(out_dir: Path) -> np.ma.MaskedArray:
    """The spread layer's B04 band (its first band when no band is named B04), nodata masked."""
    with rasterio.open(out_dir / "spread.tif") as ds:
        names = list(ds.descriptions)
        band = next((i for i, n in enumerate(names, 1) if n and n.startswith("B04")), 1)
        return ds.read(band, masked=True)


DISTANCE_BANDS_M = (0, 50, 100, 200, 400)


def gap_view(gap: np.ndarray, context: float = 0.35, least_px: int = 16) -> tuple[slice, slice]:
    """Rows and columns around the gaps with some observed context on every side, so the
    fill is big enough to judge (the whole raster when there is no gap)."""
    rows, cols = np.flatnonzero(gap.any(axis=1)), np.flatnonzero(gap.any(axis=0))
    if not rows.size:
        return slice(None), slice(None)
    out = []
    for idx, size in ((rows, gap.shape[0]), (cols, gap.shape[1])):
        pad = max(least_px, int(context * (idx[-1] - idx[0] + 1)))
        out.append(slice(max(0, idx[0] - pad), min(size, idx[-1] + 1 + pad)))
    return out[0], out[1]


def summarise(out_dir: Path, target: Path, truth: Path | None) -> list[str]:
    """Mean spread (B04) by distance from the observed pixels, and the fill's error."""
    with rasterio.open(target) as ds:
        gap = ds.read_masks(1) == 0
        pixel_m = abs(ds.transform.a)
    spread = spread_of_b04(out_dir).data.astype(np.float64)
    dist = distance_to_observed(gap, pixel_m)
    lines = []
    edges = (*DISTANCE_BANDS_M, np.inf)
    for lo, hi in itertools.pairwise(edges):
        sel = gap & (dist > lo) & (dist <= hi)
        if sel.any():
            label = f"{lo:.0f}-{hi:.0f} m" if np.isfinite(hi) else f"> {lo:.0f} m"
            lines.append(f"spread (std of B04, DN) {label} from observed pixels: "
                         f"{spread[sel].mean():.0f} over {int(sel.sum())} px")
    if truth is not None:
        with rasterio.open(truth) as t, rasterio.open(out_dir / "filled.tif") as f:
            true = t.read().astype(np.float64)
            err = f.read().astype(np.float64)[:, gap] - true[:, gap]
        base = fill_nodata(true, ~gap, max_search_px=500)[:, gap] - true[:, gap]
        lines.append(f"filled vs truth in the gap: RMSE {np.sqrt(np.mean(err ** 2)):.0f} DN "
                     f"(all bands; GDAL FillNodata interpolation: "
                     f"{np.sqrt(np.mean(base ** 2)):.0f} DN)")
    return lines


def render(out_dir: Path, target: Path, png: Path, truth: Path | None = None) -> Path:
    samples = sorted((out_dir / "samples").glob("sample_*.tif"))[:3]
    panels = [("input (gap in magenta)", target)]
    panels += [(f"sample {i}", p) for i, p in enumerate(samples, 1)]
    panels += [("filled (ensemble mean in the gap)", out_dir / "filled.tif")]
    if truth is not None:
        panels.append(("truth (held back)", truth))
    loaded = [true_colour(p) for _, p in panels]
    view = gap_view(loaded[0][1])
    images = stretch([img[view] for img, _ in loaded], [m[view] for _, m in loaded])
    spread = spread_of_b04(out_dir)[view]
    cols = len(images) + 1
    fig, axes = plt.subplots(1, cols, figsize=(3.2 * cols, 3.6), constrained_layout=True)
    for ax, (title, _), img in zip(axes, panels, images, strict=False):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    axes[-1].imshow(np.full((*spread.shape, 3), 0.85), interpolation="nearest")  # observed
    top = float(np.percentile(spread.compressed(), 98)) if spread.count() else 1.0
    shown = axes[-1].imshow(spread, cmap="magma", vmin=0.0, vmax=max(top, 1e-6),
                            interpolation="nearest")
    axes[-1].set_title("spread: std of B04 over samples (DN)\nobserved pixels in grey",
                       fontsize=9)
    fig.colorbar(shown, ax=axes[-1], fraction=0.046)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    log.info("wrote %s", png)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path, help="folder with filled.tif, spread.tif, samples/")
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--png", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    render(args.out_dir, args.target, args.png, args.truth)
    for line in summarise(args.out_dir, args.target, args.truth):
        log.info("%s", line)


if __name__ == "__main__":
    main()
