"""The footprint loop of a run: plan the footprints, then generate and write each one.

Per footprint (row-major scan order): read the target window (observed pixels and gaps), hold
what is observed plus the overlap each sample already generated (per sample, so samples
continue across footprint edges) except its last few pixels next to this footprint's new ones,
which are generated again (a decoder is weakest at its footprint's edge), read the conditions
on their native grids, generate N samples in one engine call, put them back on the target grid
and write the gap pixels not written before plus that regenerated edge. ``run_batch`` does the
same for the footprints of one wavefront (they never read each other's windows) with one
engine call for all of them: the writes of the scan. Memory is a batch's arrays plus GDAL's
(capped) block cache, whatever the raster size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from ..arrays import dilate
from ..engine.generate import CopgenEngine
from ..engine.package import ModelPackage
from ..engine.requests import GenerationRequest, GenerationResult, PartialObservation
from ..errors import InputError
from ..geo import (
    Footprint,
    FootprintPlan,
    GapReader,
    GeoTiffWriter,
    default_resampling,
    footprint_dependencies,
    plan_footprints,
    read_target_window,
    to_target_grid,
    wavefronts,
)
from .inputs import ConditionSetup, TargetSetup
from .outputs import FillWriters, inside_mask, write_footprint
from .progress import RunFeedback
from .reads import read_condition, target_observation
from .report import WriteStats

_log = logging.getLogger(__name__)


#: pixels of an earlier footprint's edge that the next footprint generates again
EDGE_PX = 4


def footprint_seed(seed: int, index: int) -> int:
    """The engine seed of footprint ``index``: derived from (seed, index), never seed + index,
    so neighbouring runs do not share footprints' noise."""
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


class CountingGaps:
    """The gap source for planning, counting gap pixels as the planner reads its strips."""

    def __init__(self, reader: GapReader | None) -> None:
        self.reader = reader
        self.count = 0

    def __call__(self, window: Window) -> np.ndarray:
        if self.reader is None:  # generate: everything is generated
            gap = np.ones((int(window.height), int(window.width)), dtype=bool)
        else:
            gap = self.reader(window)
        self.count += int(gap.sum())
        return gap


def plan(target: TargetSetup, package: ModelPackage, *, overlap_m: float, mask: Path | None
         ) -> tuple[FootprintPlan, int]:
    """Footprints over the gaps, and the number of gap pixels."""
    reader = None if target.mode == "generate" else GapReader(
        target.path, target.gap_bands, nodata=target.nodata_override, mask_path=mask)
    gaps = CountingGaps(reader)
    strip = reader.strip_rows() if reader is not None else 256
    try:
        fp_plan = plan_footprints(target.grid, gaps, footprint_m=package.footprint_m,
                                  overlap_m=overlap_m, strip_rows=strip)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return fp_plan, gaps.count


def sample_composites(values: np.ndarray, prior: np.ndarray, window: Window,
                      samples: Sequence[GeoTiffWriter], bands: Sequence[int]) -> np.ndarray:
    """What each sample holds on ``window``: ``values`` (count, h, w), with the pixels an
    earlier footprint generated (``prior``) replaced, in ``bands``, by that sample's own
    output. (count, h, w) when nothing was generated before, else (N, count, h, w)."""
    if not prior.any():
        return values
    out = np.repeat(values[None], len(samples), axis=0)
    for k, w in enumerate(samples):
        before = w.read_window(window, bands=list(bands))
        for j, b in enumerate(bands):
            out[k, b - 1][prior] = before[j][prior]
    return out


class FootprintRunner:
    """Generates footprints and writes them; one per run."""

    def __init__(self, *, engine: CopgenEngine, target: TargetSetup,
                 conditions: Sequence[ConditionSetup], fp_plan: FootprintPlan,
                 writers: FillWriters, feedback: RunFeedback, mask: Path | None,
                 date: dt.date | None, n_samples: int, steps: int, seed: int, batch_size: int,
                 statistic: str, harmonise: bool = True) -> None:
        self.engine, self.target, self.conditions = engine, target, conditions
        self.plan, self.writers, self.feedback, self.mask = fp_plan, writers, feedback, mask
        self.date, self.n, self.steps, self.seed = date, n_samples, steps, seed
        self.batch_size, self.statistic, self.harmonise = batch_size, statistic, harmonise
        pkg = engine.package
        self.latlon_key = next(iter(pkg.keys_of_family("lat_lon")), None)
        self.time_key = next(iter(pkg.keys_of_family("timestamps")), None)
        remaps = [c.layer.code_remap for c in conditions if c.family == "LULC"]
        self.code_remap = target.code_remap if target.family == "LULC" else next(
            iter(remaps), None)
        self.stats = WriteStats()
        self.held_pixels = 0
        self.filled_holes: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.device = ""
        self.generated_dates: list[str] = []  # the first footprint's, one per sample
        self._dates_of: int | None = None  # the footprint they come from

    def window(self, fp: Footprint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (count, h, w) in output units, gap (h, w), observed (h, w)) on the window."""
        t = self.target
        if t.mode == "generate":
            inside = inside_mask(t.grid, fp.window)
            h, w = inside.shape
            return np.zeros((t.count, h, w), t.dtype), inside, np.zeros_like(inside)
        tw = read_target_window(t.path, list(range(1, t.count + 1)), fp.window,
                                nodata=t.nodata_override, mask_path=self.mask)
        gap = tw.gap_of(t.gap_bands)
        return tw.data, gap, tw.inside & ~gap

    def _request(self, fp: Footprint, partial: dict[str, PartialObservation], *,
                 count: bool = True) -> GenerationRequest:
        conds: dict[str, object] = {}
        for c in self.conditions:
            got = read_condition(c, fp)
            conds.update(got.values)
            if not count:  # a self-check generation: the run's report is not its business
                continue
            for key in got.filled_holes:
                self.filled_holes[key] = self.filled_holes.get(key, 0) + 1
            for key in got.dropped:
                self.dropped[key] = self.dropped.get(key, 0) + 1
        if self.latlon_key is not None:
            conds[self.latlon_key] = (fp.centre_lat, fp.centre_lon)
        targets = [g.key for g in self.target.groups]
        if self.time_key is not None:
            if self.date is not None:
                conds[self.time_key] = self.date
            else:  # generated jointly with each sample (never guessed), and reported
                targets.append(self.time_key)
        return GenerationRequest(
            targets=targets, conditions=conds, partial=partial, n_samples=self.n,
            steps=self.steps, seed=footprint_seed(self.seed, fp.index),
            batch_size=self.batch_size, lulc_code_remap=self.code_remap,
            harmonise=self.harmonise)

    def _to_target(self, result: GenerationResult, fp: Footprint
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Samples on the target window (N, C_gen, h, w) in output units, and coverage."""
        t = self.target
        gen = list(t.generated)
        h, w = int(fp.window.height), int(fp.window.width)
        out = np.full((self.n, len(gen), h, w), np.nan, dtype=np.float32)
        covered = np.ones((h, w), dtype=bool)
        for g in t.groups:
            res = default_resampling(from_m=g.pixel_size_m, to_m=t.native_px,
                                     categorical=t.categorical)
            rows = [gen.index(b) for b in g.bands]
            for k, sample in enumerate(result.samples[g.key]):
                phys = np.asarray(t.from_model(sample.astype(np.float32)), dtype=np.float32)
                patch = to_target_grid(phys, fp, t.grid, pixel_size_m=g.pixel_size_m,
                                       resampling=res)  # type: ignore[arg-type]
                out[k, rows] = patch.data
                covered &= patch.covered
        return out, covered

    def generate_check(self, index: int, values: np.ndarray, known: np.ndarray, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
        """A separate generation of footprint ``index`` holding only ``known`` pixels of
        ``values`` (the self-check's): samples (N, C_gen, h, w) and coverage; nothing is
        written and nothing of the run's state changes."""
        fp = self.plan[index]
        partial = {g.key: target_observation(self.target, g, fp, self.target.grid, values,
                                             known) for g in self.target.groups}
        req = dataclasses.replace(self._request(fp, partial, count=False), seed=seed)
        result = self.engine.generate(req, cancel=self.feedback.cancelled)
        return self._to_target(result, fp)

    def _prepare(self, index: int) -> _Prepared | None:
        """Footprint ``index``'s request, from the target and what earlier footprints wrote;
        None when earlier footprints already generated all of its gap pixels."""
        fp = self.plan[index]
        values, gap, observed = self.window(fp)
        prior = self.plan.prior_coverage(index) & gap
        fresh = gap & ~prior & fp.coverage(self.target.grid)
        if not fresh.any():
            return None
        # the earlier footprints' last pixels next to this one's new ones are generated again:
        # a decoder is weakest at the edge of its footprint, and holding that edge would
        # carry its flaws into this footprint as a line
        prior &= ~dilate(fresh, EDGE_PX)
        known = observed | prior
        composites = sample_composites(values, prior, fp.window, self.writers.samples,
                                       self.target.generated)
        partial = {g.key: target_observation(self.target, g, fp, self.target.grid, composites,
                                             known) for g in self.target.groups}
        return _Prepared(index, gap, prior, fresh, self._request(fp, partial))

    def _write(self, p: _Prepared, result: GenerationResult) -> None:
        """Write footprint ``p.index``'s samples: its gap pixels not held from before."""
        fp = self.plan[p.index]
        self.device = result.device
        if self.time_key in result.samples and (self._dates_of is None
                                                or p.index < self._dates_of):
            self._dates_of = p.index  # the first footprint's (scan order), as a scan sees it
            self.generated_dates = [f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
                                    for d, m, y in result.samples[self.time_key][:, 0, 0]]
        samples, covered = self._to_target(result, fp)
        write = p.gap & covered & ~p.prior
        self.held_pixels += int(p.prior.sum())
        write_footprint(self.writers, self.target, fp.window, samples, write, self.statistic,
                        self.stats, new=p.fresh)

    def run(self, index: int) -> bool:
        """Generate and write footprint ``index`` of the plan; False when earlier footprints
        already generated all of its gap pixels (nothing new to write: skipped)."""
        total = len(self.plan)
        fb = self.feedback
        fb.check(f"before footprint {index + 1} of {total}")
        fb.footprint(index, total, 0.0, f"footprint {index + 1}/{total}: reading")
        p = self._prepare(index)
        if p is None:
            fb.footprint(index, total, 1.0, f"footprint {index + 1}/{total}: already generated")
            return False

        def on_step(done: int, steps_total: int) -> None:
            fb.footprint(index, total, done / max(steps_total, 1),
                         f"footprint {index + 1}/{total}: step {done}/{steps_total}")

        self._write(p, self.engine.generate(p.request, progress=on_step, cancel=fb.cancelled))
        fb.footprint(index, total, 1.0, f"footprint {index + 1}/{total}: written")
        return True

    def run_batch(self, indices: Sequence[int], *, max_rows: int, done: int = 0) -> list[bool]:
        """Footprints of one wavefront (none reads another's window) generated together,
        ``max_rows`` samples per denoiser call, then written in scan order: the writes of
        ``run`` on each. ``done``: footprints finished before (for the progress bar)."""
        total, fb, k = len(self.plan), self.feedback, len(indices)
        what = (f"footprint {indices[0] + 1}/{total}" if k == 1 else
                f"footprints {', '.join(str(i + 1) for i in indices)} of {total}")
        fb.check(f"before {what}")
        fb.footprints(done, k, total, 0.0, f"{what}: reading")
        prepared = [self._prepare(i) for i in indices]
        live = [p for p in prepared if p is not None]

        def on_step(step: int, steps_total: int) -> None:
            fb.footprints(done, k, total, step / max(steps_total, 1),
                          f"{what}: step {step}/{steps_total}")

        if live:
            results = self.engine.generate_many([p.request for p in live], max_rows=max_rows,
                                                progress=on_step, cancel=fb.cancelled)
            for p, result in zip(live, results, strict=True):
                self._write(p, result)
        fb.footprints(done, k, total, 1.0, f"{what}: written")
        return [p is not None for p in prepared]


def wavefront_batches(fp_plan: FootprintPlan, per_batch: int) -> list[list[int]]:
    """The plan's footprints in runs of at most ``per_batch`` from one wavefront each,
    wavefront by wavefront (scan order inside one): a run's inputs are final when it runs."""
    levels = wavefronts(footprint_dependencies(fp_plan))
    by_level: dict[int, list[int]] = {}
    for i, level in enumerate(levels):
        by_level.setdefault(level, []).append(i)
    step = max(1, per_batch)
    return [ids[a:a + step] for level in sorted(by_level)
            for ids in (by_level[level],) for a in range(0, len(ids), step)]


@dataclasses.dataclass
class _Prepared:
    """One footprint ready to generate: its request and the masks its writes need."""

    index: int
    gap: np.ndarray
    prior: np.ndarray
    fresh: np.ndarray
    request: GenerationRequest
