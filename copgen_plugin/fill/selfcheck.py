"""The self-check of a gap fill: the run grades itself on observed pixels it hides.

In a deterministic sample of the plan's footprints (``fraction`` of them, at least one), an
extra generation, separate from the run's (its own seed; it reads the input only and writes
nothing to the outputs), hides observed pixels in gap-shaped blobs (copies of the footprint's
own gap mask, shifted by a range of distances from the real gaps), generates them like gaps and
scores the samples against the hidden values (``scores.Scores``), beside GDAL FillNodata on the
same pixels. The run's own outputs are the run without the self-check, bit for bit.

Errors and spread grow with the distance from the nearest observed pixel, and a blob hidden
inside one footprint cannot be as far from observed pixels as a cloud wider than the footprint
is: the scores are kept per distance band, and the headline figures (all bands, and each band)
mix the distance bands as the real gap pixels of the checked footprints lie (a distance band
with no hidden pixel borrows the nearest band's figures); the hidden pixels' own mix is
reported beside them (``hidden_pixels_only``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from rasterio.windows import Window

from ..geo import Footprint, GapReader
from ..geo.baseline import distance_to_observed, fill_nodata
from .outputs import inside_mask
from .scores import Scores

if TYPE_CHECKING:
    from .footprint import FootprintRunner

#: how far beyond a footprint's window observed pixels are looked for, for the real gaps'
#: distances (pixels)
DISTANCE_MARGIN_PX = 64
#: the self-check's own random stream (footprints chosen, blobs placed, generation seeds)
STREAM = 0x5E1F
#: share of a footprint's observed pixels the blobs may hide at most
MAX_HIDDEN_SHARE = 0.3
#: a footprint is checked only if at least this share of its window is observed
MIN_OBSERVED_SHARE = 0.2
#: the shifts tried, as fractions of the window's size: a range of distances from the gaps
SHIFTS = (0.15, 0.25, 0.35, 0.5, 0.65)
#: rounds of random directions tried for each shift
SHIFT_ROUNDS = 8
#: a shifted gap copy counts as whole when this share of it lands on observed pixels
WHOLE_FIT = 0.85


def n_checked(fraction: float, n_footprints: int) -> int:
    """Footprints to check: ``fraction`` of them rounded up, so any fraction > 0 checks at
    least one (0.03 of the demo's 13 footprints: 1)."""
    if fraction <= 0 or n_footprints == 0:
        return 0
    return min(n_footprints, math.ceil(fraction * n_footprints - 1e-9))


def footprint_order(seed: int, n_footprints: int) -> list[int]:
    """The order in which footprints are offered to the self-check: a permutation fixed by the
    run's seed (the same run checks the same footprints)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM]))
    return [int(i) for i in rng.permutation(n_footprints)]


def check_seed(seed: int, index: int) -> int:
    """The engine seed of footprint ``index``'s check generation (never the run's own)."""
    state = np.random.SeedSequence([int(seed), int(index), STREAM]).generate_state(
        2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def hide_blobs(gap: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Observed pixels to hide: copies of the footprint's gap mask shifted in random directions
    by a range of distances (``SHIFTS``), each kept only if it lands (almost) whole on observed
    pixels, until about as many pixels as the real gap (at most ``MAX_HIDDEN_SHARE`` of the
    observed ones) are hidden. Gap-shaped, so the hidden pixels lie about as far from the
    observed ones as the real gap pixels do; where no whole copy fits, the best-fitting
    copies' observed parts are hidden instead."""
    h, w = gap.shape
    want = min(int(gap.sum()), int(MAX_HIDDEN_SHARE * observed.sum()))
    hidden = np.zeros_like(observed)
    tried: list[tuple[float, np.ndarray]] = []
    for _ in range(SHIFT_ROUNDS):
        for frac in SHIFTS:
            angle = rng.uniform(0, 2 * np.pi)
            dy, dx = round(frac * h * np.sin(angle)), round(frac * w * np.cos(angle))
            moved = _shift(gap, dy, dx)
            land = moved & observed
            fit = land.sum() / max(int(moved.sum()), 1)
            tried.append((fit, land))
            if fit < WHOLE_FIT or hidden.sum() + (land & ~hidden).sum() > 1.5 * want:
                continue
            hidden |= land
            if hidden.sum() >= want:
                return hidden
    for _fit, land in sorted(tried, key=lambda t: -t[0]):  # no whole copy fitted often enough
        if hidden.sum() >= want:
            break
        if hidden.sum() + (land & ~hidden).sum() <= 1.5 * want:
            hidden |= land
    return hidden


class SelfCheck:
    """Runs the check generations of one fill on the run's own engine, and scores them."""

    def __init__(self, runner: FootprintRunner, *, fraction: float, seed: int) -> None:
        self.runner, self.fraction, self.seed = runner, fraction, seed
        t = runner.target
        self.bands = [t.descriptions[b - 1] or f"band {b}" for b in t.generated]
        self.scores = Scores(self.bands, runner.n)
        self.footprints: list[int] = []
        self.gaps = GapReader(t.path, t.gap_bands, nodata=t.nodata_override,
                              mask_path=runner.mask)
        #: the real gap pixels of the checked windows by distance band: their mix of distances
        self.gap_mix = np.zeros(len(self.scores.edges) + 1)
        self.seconds = 0.0

    def _candidates(self) -> Iterator[int]:
        yield from footprint_order(self.seed, len(self.runner.plan))

    def run(self) -> None:
        """Check ``n_checked`` footprints (the first in ``footprint_order`` with enough
        observed pixels to hide some)."""
        started = time.monotonic()
        want = n_checked(self.fraction, len(self.runner.plan))
        for index in self._candidates():
            if len(self.footprints) >= want:
                break
            if self._check(index):
                self.footprints.append(index)
        self.seconds = time.monotonic() - started

    def _check(self, index: int) -> bool:
        r = self.runner
        fp = r.plan[index]
        r.feedback.check(f"before the self-check of footprint {index + 1}")
        values, gap, observed = r.window(fp)
        if observed.sum() < MIN_OBSERVED_SHARE * observed.size or not gap.any():
            return False
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index, STREAM]))
        hidden = hide_blobs(gap, observed, rng)
        if not hidden.any():
            return False
        kept = observed & ~hidden
        r.feedback.info(f"self-check: footprint {index + 1}, {int(hidden.sum())} observed "
                        "pixels hidden")
        samples, covered = r.generate_check(index, values, kept, check_seed(self.seed, index))
        scored = hidden & covered
        rows = [b - 1 for b in r.target.generated]
        truth = values[rows].astype(np.float32)
        gdal = fill_nodata(truth, kept, max_search_px=max(truth.shape[1:]))
        real = self._real_distances(fp, gap)
        self.gap_mix += np.bincount(self.scores.band_of(real), minlength=self.gap_mix.size)
        dist = distance_to_observed(~kept, r.target.native_px)
        self.scores.add(samples[:, :, scored], truth[:, scored], dist[scored],
                        gdal[:, scored])
        return True

    def _real_distances(self, fp: Footprint, gap: np.ndarray) -> np.ndarray:
        """Metres from each real gap pixel of the window to the nearest observed pixel, looking
        ``DISTANCE_MARGIN_PX`` beyond the window (observed pixels there count too; nothing
        outside the raster does)."""
        t = self.runner.target
        m = DISTANCE_MARGIN_PX
        win = fp.window
        big = Window(int(win.col_off) - m, int(win.row_off) - m, int(win.width) + 2 * m,
                     int(win.height) + 2 * m)
        observed = inside_mask(t.grid, big) & ~self.gaps(big)
        dist = distance_to_observed(~observed, t.native_px)
        h, w = gap.shape
        return dist[m:m + h, m:m + w][gap]

    def result(self, *, run_seconds: float) -> dict[str, object]:
        """The report's ``self_check`` entry: the scores and what the check cost."""
        out = self.scores.as_dict(weights=list(self.gap_mix / max(self.gap_mix.sum(), 1)))
        out.update({
            "fraction": self.fraction, "footprints": [i + 1 for i in self.footprints],
            "footprints_total": len(self.runner.plan), "hidden_pixels": self.scores.pixels,
            "n_samples": self.runner.n, "seconds": round(self.seconds, 2),
            "extra_cost": round(self.seconds / run_seconds, 3) if run_seconds > 0 else 0.0,
        })
        return out
