"""Verification scores of an ensemble against held-back values (one home for the self-check of
a run and ``benchmarks/bench_spread.py``, so both grade fills the same way).

:class:`Scores` accumulates, per band and per distance band (metres from the nearest observed
pixel), the sums behind: MAE and RMSE of the ensemble mean, coverage of the 5-95 % and
25-75 % sample intervals, the spread-skill ratio, the ensemble CRPS and the MAE of GDAL
FillNodata on the same pixels. Sums, not means, so footprints add up exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: upper edges (m) of the distance bands from the nearest observed pixel; the last is open
DISTANCE_EDGES_M: tuple[float, ...] = (50.0, 100.0, 200.0)
#: the sample intervals whose coverage is scored: (low, high) quantiles
INTERVALS: dict[str, tuple[float, float]] = {"5_95": (0.05, 0.95), "25_75": (0.25, 0.75)}
_SUMS = ("n", "abs", "sq", "var", "crps", "gdal_abs", "in_5_95", "in_25_75")


def distance_labels(edges: Sequence[float] = DISTANCE_EDGES_M) -> list[str]:
    """'0-50 m', '50-100 m', ..., '> 200 m'."""
    lows = (0.0, *edges)
    return [f"{lo:g}-{hi:g} m" for lo, hi in zip(lows, edges, strict=False)] + [
        f"> {edges[-1]:g} m"]


def expected_coverage(low: float, high: float, n: int) -> float:
    """Coverage of the interpolated [low, high] quantile interval of ``n`` samples when the
    truth is one more draw of the same distribution (a calibrated ensemble): the truth's rank
    among the n + 1 is uniform, and the interval spans (high - low)(n - 1) of its n + 1 slots
    (exact for uniform values, within 3 points for bell-shaped ones). 0.9 * 7/9 = 70 % for 8
    samples: small ensembles cover less even when perfect."""
    return (high - low) * (n - 1) / (n + 1) if n > 1 else 0.0


def crps_ensemble(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Ensemble CRPS per value: mean |X_i - y| - sum_ij |X_i - X_j| / (2 N^2); ``samples``
    (N, ...), ``truth`` (...). The pair sum comes from the sorted samples in O(N log N)."""
    n = samples.shape[0]
    x = np.sort(samples, axis=0)
    weights = (2 * np.arange(n) - n + 1).reshape((n,) + (1,) * (x.ndim - 1))
    pairs = 2 * np.sum(weights * x, axis=0)  # sum over all ordered pairs of |X_i - X_j|
    return np.mean(np.abs(samples - truth[None]), axis=0) - pairs / (2 * n * n)


@dataclass
class Scores:
    """Running sums per (band, distance band); ``add`` footprint by footprint, then read."""

    bands: list[str]
    n_samples: int
    edges: tuple[float, ...] = DISTANCE_EDGES_M
    sums: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.bands), len(self.edges) + 1)
        for key in _SUMS:
            self.sums.setdefault(key, np.zeros(shape, np.float64))

    def add(self, samples: np.ndarray, truth: np.ndarray, dist_m: np.ndarray,
            gdal: np.ndarray | None = None) -> None:
        """``samples`` (N, C, P), ``truth`` (C, P), ``dist_m`` (P,) metres from the nearest
        observed pixel, ``gdal`` (C, P) FillNodata's values of the same pixels."""
        s = samples.astype(np.float64)
        y = truth.astype(np.float64)
        err = s.mean(axis=0) - y
        per_value = {
            "n": np.ones_like(y), "abs": np.abs(err), "sq": err ** 2,
            "var": s.var(axis=0, ddof=1) if self.n_samples > 1 else np.zeros_like(y),
            "crps": crps_ensemble(s, y),
            "gdal_abs": np.abs(gdal.astype(np.float64) - y) if gdal is not None
            else np.full_like(y, np.nan),
        }
        for name, (lo, hi) in INTERVALS.items():
            q_lo, q_hi = np.quantile(s, [lo, hi], axis=0)
            per_value[f"in_{name}"] = ((y >= q_lo) & (y <= q_hi)).astype(np.float64)
        band = self.band_of(dist_m)
        for d in range(len(self.edges) + 1):
            at = band == d
            if at.any():
                for key, values in per_value.items():
                    self.sums[key][:, d] += values[:, at].sum(axis=1)

    @property
    def pixels(self) -> int:
        """Values scored per band."""
        return int(self.sums["n"][0].sum()) if self.bands else 0

    def figures(self, band: int | None = None, distance: int | None = None, *,
                weights: Sequence[float] | None = None) -> dict[str, float]:
        """The scores over one band (None: all) and one distance band (None: all); NaN where
        nothing was scored. ``weights`` (one per distance band): each distance band's means
        weighted by them instead of by its pixel count (the real gaps' mix of distances; a
        band with no pixel scored takes the nearest scored band's means, nearer first)."""
        rows = slice(None) if band is None else slice(band, band + 1)
        if weights is None:
            cols = slice(None) if distance is None else slice(distance, distance + 1)
            return self._from_sums({k: float(v[rows, cols].sum())
                                    for k, v in self.sums.items()})
        per = [{k: float(v[rows, d].sum()) for k, v in self.sums.items()}
               for d in range(len(self.edges) + 1)]
        scored = [d for d, t in enumerate(per) if t["n"]]
        if not scored or not sum(weights):
            return self._from_sums({k: 0.0 for k in _SUMS})
        total = sum(weights)
        mixed = dict.fromkeys(_SUMS, 0.0)
        for d, w in enumerate(weights):
            src = per[min(scored, key=lambda s: (abs(s - d), s))]
            for k in _SUMS:
                mixed[k] += w / total * src[k] / src["n"]
        out = self._from_sums(mixed)
        out["pixels"] = float(sum(t["n"] for t in per))
        return out

    def _from_sums(self, tot: dict[str, float]) -> dict[str, float]:
        n = tot["n"]
        if not n:
            return {k: math.nan for k in ("mae", "rmse", "gdal_mae", "coverage_5_95",
                                          "coverage_25_75", "spread_skill", "crps")} | {
                "pixels": 0.0}
        rmse = math.sqrt(tot["sq"] / n)
        spread = math.sqrt(tot["var"] / n * (self.n_samples + 1) / self.n_samples)
        return {
            "pixels": n, "mae": tot["abs"] / n, "rmse": rmse, "gdal_mae": tot["gdal_abs"] / n,
            "coverage_5_95": tot["in_5_95"] / n, "coverage_25_75": tot["in_25_75"] / n,
            # sqrt((N+1)/N) x the mean spread over the RMSE: 1 for a calibrated ensemble
            "spread_skill": spread / rmse if rmse > 0 else math.nan,
            "crps": tot["crps"] / n,
        }

    def expected(self) -> dict[str, float]:
        """What a calibrated ensemble of this size would cover."""
        return {f"coverage_{k}": expected_coverage(lo, hi, self.n_samples)
                for k, (lo, hi) in INTERVALS.items()}

    def as_dict(self, weights: Sequence[float] | None = None) -> dict[str, object]:
        """All bands together at the top, then ``bands`` and ``distances`` (per band too).
        With ``weights``, the top and per-band figures mix the distance bands by them (the
        raw figures then go under ``hidden_pixels_only``); the distance rows stay raw."""
        labels = distance_labels(self.edges)
        out: dict[str, object] = dict(self.figures(weights=weights))
        if weights is not None:
            out["hidden_pixels_only"] = self.figures()
            out["distance_weights"] = dict(zip(labels, (float(w) for w in weights),
                                               strict=True))
        out["expected"] = self.expected()
        out["bands"] = {
            name: {**self.figures(band=b, weights=weights),
                   "distances": {lab: self.figures(band=b, distance=d)
                                 for d, lab in enumerate(labels)}}
            for b, name in enumerate(self.bands)}
        out["distances"] = {lab: self.figures(distance=d) for d, lab in enumerate(labels)}
        return out

    def band_of(self, dist_m: np.ndarray) -> np.ndarray:
        """The distance band of each distance (index into ``distance_labels``)."""
        return np.searchsorted(np.asarray(self.edges), dist_m, side="left")


def score_against_truth(sample_paths: Sequence[Path], target: Path, truth: Path, *,
                        bands: Sequence[int] | None = None,
                        edges: tuple[float, ...] = DISTANCE_EDGES_M) -> Scores:
    """The same scores for a finished gap fill against a gap-free reference of its target
    (the demo scene's ``s2l2a_truth.tif``): over the target's real gap pixels (nodata in any
    band), with GDAL FillNodata from its observed pixels beside them. What the self-check
    estimates, measured where the truth is known (tests, ``benchmarks/bench_spread.py``)."""
    import rasterio

    from ..geo.baseline import distance_to_observed, fill_nodata

    with rasterio.open(target) as ds:
        rows = list(bands or range(1, ds.count + 1))
        gap = (ds.read_masks(rows) == 0).any(axis=0)
        names = [ds.descriptions[b - 1] or f"band {b}" for b in rows]
        px = abs(ds.transform.a)
    with rasterio.open(truth) as ds:
        true = ds.read(rows).astype(np.float32)
    samples = []
    for p in sample_paths:
        with rasterio.open(p) as ds:
            samples.append(ds.read(rows)[:, gap].astype(np.float32))
    gdal = fill_nodata(true, ~gap, max_search_px=max(gap.shape))
    scores = Scores(names, len(samples), edges)
    scores.add(np.stack(samples), true[:, gap], distance_to_observed(gap, px)[gap],
               gdal[:, gap])
    return scores
