"""Synthetic rasters, requests and output checks for the fill tests (real GeoTIFFs, no mocks)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from copgen_plugin.fill import FillOutputs, FillReport, FillRequest, LayerInput

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TERRAMESH = SHARED / "data" / "terramesh"
UTM32N = CRS.from_epsg(32632)
ORIGIN = (500_000.0, 5_020_000.0)
SPREAD_NODATA = -9999.0


def need_cell(name: str = "282D_485L_3_3") -> Path:
    cell = TERRAMESH / name
    if not (cell / "S2L2A.tif").exists():
        pytest.skip(f"real TerraMesh rasters not found at {cell} (../shared/data beside the "
                    "repository)")
    return cell


def transform(res: float = 10.0, origin: tuple[float, float] = ORIGIN) -> Affine:
    return Affine(res, 0.0, origin[0], 0.0, -res, origin[1])


def write_tif(path: Path, data: np.ndarray, *, crs: CRS = UTM32N,
              transform_: Affine | None = None, nodata: float | None = None,
              descriptions: Sequence[str] | None = None,
              tags: dict[str, str] | None = None) -> Path:
    a = data if data.ndim == 3 else data[None]
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[2], height=a.shape[1],
                       count=a.shape[0], dtype=a.dtype.name, crs=crs,
                       transform=transform_ or transform(), nodata=nodata) as ds:
        ds.write(a)
        for i, d in enumerate(descriptions or [], start=1):
            ds.set_band_description(i, d)
        if tags:
            ds.update_tags(**tags)
    return path


def cloud_mask(shape: tuple[int, int], *, seed: int = 0, blobs: int = 4,
               radius: float = 0.12) -> np.ndarray:
    """A cloud-shaped gap: the union of a few soft-edged blobs, irregular at the edge."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    field = np.zeros(shape)
    for _ in range(blobs):
        cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
        r = radius * min(h, w) * rng.uniform(0.6, 1.4)
        field += np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
    field += 0.15 * rng.standard_normal(shape)
    return field > 0.6


def smooth_s2(shape: tuple[int, int], bands: int = 12, *, seed: int = 0) -> np.ndarray:
    """Plausible int16 reflectance DN (smooth gradients + texture)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    base = 800 + 600 * np.sin(yy / 17.0) * np.cos(xx / 23.0)
    out = [base + 150 * b + rng.normal(0, 40, shape) for b in range(bands)]
    return np.clip(np.stack(out), 1, 10000).astype(np.int16)


def request(target: Path, out: Path, model: Path | str, *, modality: str = "S2L2A",
            conditions: Sequence[LayerInput] = (), mode: str = "gapfill", n: int = 2,
            steps: int = 2, seed: int = 7, date: dt.date | None = dt.date(2021, 6, 1),
            **extra: object) -> FillRequest:
    out.mkdir(parents=True, exist_ok=True)
    target_opts = {k: extra.pop(k) for k in ("bands", "nodata", "s1_scale", "code_remap")
                   if k in extra}
    return FillRequest(
        mode=mode, target=LayerInput(target, modality, **target_opts),  # type: ignore[arg-type]
        outputs=FillOutputs(filled=out / "filled.tif", spread=out / "spread.tif",
                            samples_dir=out / "samples"),
        model=str(model), conditions=tuple(conditions), n_samples=n, steps=steps, seed=seed,
        date=date, **extra)  # type: ignore[arg-type]


def read(path: Path | str) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as ds:
        return ds.read(), {"crs": ds.crs, "transform": ds.transform, "nodata": ds.nodata,
                           "dtype": ds.dtypes[0], "descriptions": ds.descriptions,
                           "tags": ds.tags(), "count": ds.count}


def is_nodata(values: np.ndarray, nodata: float | None) -> np.ndarray:
    if nodata is None:
        return np.zeros(values.shape, bool)
    return np.isnan(values) if math.isnan(nodata) else values == nodata


def check_gapfill(report: FillReport, target: Path, gap: np.ndarray, *, n: int) -> None:
    """The issue's output contract for a gap fill of ``target`` whose gap pixels are ``gap``:
    N samples + filled + spread on the input's grid; observed pixels bit-identical; no nodata
    left in the gap; spread > 0 in the gap and nodata outside."""
    src, meta = read(target)
    assert len(report.sample_paths) == n
    paths = [*report.sample_paths, report.outputs["filled"]]
    assert all(Path(p).is_file() for p in [*paths, report.outputs["spread"]])
    for p in paths:
        data, m = read(p)
        assert m["crs"] == meta["crs"] and m["transform"] == meta["transform"]
        assert data.shape == src.shape and data.dtype == src.dtype
        np.testing.assert_array_equal(data[:, ~gap], src[:, ~gap])  # bit for bit
        assert not is_nodata(data[:, gap], m["nodata"]).any()
        if np.issubdtype(data.dtype, np.floating):
            assert np.isfinite(data[:, gap]).all()
    spread, sm = read(report.outputs["spread"])
    assert sm["crs"] == meta["crs"] and sm["transform"] == meta["transform"]
    assert sm["dtype"] == "float32" and sm["nodata"] == SPREAD_NODATA
    assert (spread[:, ~gap] == SPREAD_NODATA).all()
    assert (spread[:, gap] > 0).all()
    assert report.gap_pixels == int(gap.sum()) == report.pixels_written
