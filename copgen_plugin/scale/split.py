"""One scene's footprints as tasks of a Dask graph (``--split-scene``), identical to the scan.

Footprint i (scan order) holds, per sample, what earlier footprints wrote inside its window,
and its noise comes from ``footprint_seed(seed, i)``: it depends exactly on the earlier
footprints whose windows intersect its own. Each footprint task runs fill's own
``FootprintRunner.run(i)`` on :class:`WindowCanvas` writers that hold its window as the
sequential scan would see it (the target's pixels, then its dependencies' writes in scan
order) and records the writes it makes into a result file beside the scene's outputs.
The scene task (``run_fill`` with :func:`split_runner_factory`) then replays every
footprint's writes onto the real outputs in scan order: the same writes as the sequential
scan, so the same files. Footprints of one wavefront run in parallel.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from ..fill.footprint import FootprintRunner
from ..fill.outputs import FillWriters, inside_mask
from ..fill.progress import RunFeedback
from ..fill.report import WriteStats
from ..fill.request import FillRequest
from ..geo import (
    FootprintPlan,
    footprint_dependencies,
    intersect_windows,
    read_target_window,
    wavefronts,
    window_slices,
)
from .engines import leased_engine

_log = logging.getLogger(__name__)

WriterSpec = tuple[str, int, str, float | None]  # name, count, dtype, nodata


class WindowCanvas:
    """Stands in for a ``GeoTiffWriter`` on one footprint window: same read and write rules
    (clipped to the raster, writes only where ``mask``; outside: nodata, or 0), and it keeps
    the list of writes so that they can be replayed onto the real output."""

    def __init__(self, spec: WriterSpec, plan: FootprintPlan, window: Window,
                 initial: np.ndarray | None) -> None:
        self.name, self.count, dtype, self.nodata = spec
        self.dtype = np.dtype(dtype)
        self.window = window
        self.inside = inside_mask(plan.grid, window)
        h, w = self.inside.shape
        fill = self.nodata if self.nodata is not None else 0
        self.data = np.full((self.count, h, w), fill, dtype=self.dtype)
        if initial is not None:
            self.data[:, self.inside] = initial[:, self.inside]
        self.writes: list[tuple[tuple[int, ...], np.ndarray, np.ndarray | None]] = []

    def _idx(self, bands: Sequence[int] | None) -> list[int]:
        return list(range(1, self.count + 1)) if bands is None else [int(b) for b in bands]

    def read_window(self, window: Window, *, bands: Sequence[int] | None = None) -> np.ndarray:
        self._same(window)
        return self.data[[b - 1 for b in self._idx(bands)]].copy()

    def write_window(self, array: np.ndarray, window: Window, *,
                     mask: np.ndarray | None = None, bands: Sequence[int] | None = None
                     ) -> None:
        self._same(window)
        idx = tuple(self._idx(bands))
        a = np.asarray(array)
        a = (a[None] if a.ndim == 2 else a).astype(self.dtype, copy=False)
        m = None if mask is None else np.asarray(mask, dtype=bool)
        self.apply(idx, a, m, window)
        self.writes.append((idx, a, m))

    def apply(self, bands: Sequence[int], array: np.ndarray, mask: np.ndarray | None,
              window: Window) -> None:
        """Put a write made on ``window`` (this canvas's or another footprint's) in place."""
        inter = intersect_windows(window, self.window)
        if inter is None:
            return
        src = window_slices(inter, window)
        dst = window_slices(inter, self.window)
        for j, b in enumerate(bands):
            where = self.inside[dst]
            if mask is not None:
                where = where & (mask[src] if mask.ndim == 2 else mask[j][src])
            plane = self.data[b - 1][dst]
            plane[where] = array[j][src][where]

    def _same(self, window: Window) -> None:
        if tuple(map(int, window.flatten())) != tuple(map(int, self.window.flatten())):
            raise ValueError(f"{self.name}: canvas of {self.window} used on {window}")


@dataclass
class FootprintJob:
    """Everything a footprint task needs (shipped once to each worker)."""

    request: FillRequest
    runner: dict[str, Any]  # FootprintRunner's keyword arguments, without engine/writers/feedback
    writers: list[WriterSpec]
    work_dir: Path
    deps: list[list[int]]

    @property
    def plan(self) -> FootprintPlan:
        return self.runner["fp_plan"]

    def result_path(self, index: int) -> Path:
        return self.work_dir / f"footprint_{index:06d}.npz"


def _initial(job: FootprintJob, window: Window) -> np.ndarray | None:
    """The target's pixels on the window as the outputs start (gapfill), else None (unwritten
    outputs read as nodata). Only generated bands are ever read back, so the copy's setting of
    ungenerated bands' gap pixels to nodata does not matter here."""
    target = job.runner["target"]
    if target.mode != "gapfill":
        return None
    tw = read_target_window(target.path, list(range(1, target.count + 1)), window,
                            nodata=target.nodata_override, mask_path=job.runner["mask"])
    return tw.data


def load_result(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...],
                                                                 np.ndarray, np.ndarray | None]]]:
    """A footprint result: its facts and its writes (writer name, bands, array, mask)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        ops = [(name, tuple(bands), z[f"a{k}"], z[f"m{k}"] if has_mask else None)
               for k, (name, bands, has_mask) in enumerate(meta["ops"])]
    return meta, ops


def run_footprint(job: FootprintJob, index: int, *dep_results: str) -> str:
    """Footprint task: generate footprint ``index`` on canvases, save its writes; returns the
    result file. Idempotent: an existing result (written atomically) is returned as is."""
    out = job.result_path(index)
    if out.is_file():
        return str(out)
    plan = job.plan
    window = plan[index].window
    initial = _initial(job, window)
    canvases = {spec[0]: WindowCanvas(spec, plan, window,
                                      initial if spec[0] != "spread" else None)
                for spec in job.writers}
    for path in sorted(dep_results):  # file names sort in scan order
        meta, ops = load_result(Path(path))
        dep_window = Window(*meta["window"])
        for name, bands, array, mask in ops:
            canvases[name].apply(bands, array, mask, dep_window)
    for canvas in canvases.values():
        canvas.writes.clear()
    samples = [canvases[s[0]] for s in job.writers if s[0].startswith("sample_")]
    writers = FillWriters(samples=samples, filled=canvases["filled"],  # type: ignore[arg-type]
                          spread=canvases["spread"])  # type: ignore[arg-type]
    with leased_engine(job.request) as engine:
        runner = FootprintRunner(engine=engine, writers=writers,
                                 feedback=RunFeedback(None, None, None), **job.runner)
        ran = runner.run(index)
        providers = engine.providers
    ops_meta: list[list[Any]] = []
    arrays: dict[str, np.ndarray] = {}
    for canvas in canvases.values():
        for bands, array, mask in canvas.writes:
            k = len(ops_meta)
            ops_meta.append([canvas.name, list(bands), mask is not None])
            arrays[f"a{k}"] = array
            if mask is not None:
                arrays[f"m{k}"] = mask
    meta = {"index": index, "ran": ran, "window": [int(v) for v in window.flatten()],
            "ops": ops_meta, "pixels": runner.stats.pixels,
            "nodata_class": runner.stats.nodata_class, "held_pixels": runner.held_pixels,
            "filled_holes": runner.filled_holes, "dropped": runner.dropped,
            "device": runner.device, "generated_dates": runner.generated_dates,
            "providers": providers, "pid": os.getpid()}
    tmp = out.with_name(f"{out.stem}.partial-{secrets.token_hex(4)}.npz")
    try:
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return str(out)


@dataclass
class ReplayRunner:
    """What ``run_fill`` drives in place of a ``FootprintRunner``: ``run(i)`` replays footprint
    i's recorded writes onto the real outputs, and it sums the footprints' facts."""

    writers: FillWriters
    results: list[Path]
    stats: WriteStats = field(default_factory=WriteStats)
    held_pixels: int = 0
    filled_holes: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    device: str = ""
    generated_dates: list[str] = field(default_factory=list)
    providers: dict[str, list[str]] = field(default_factory=dict)

    def run(self, index: int) -> bool:
        meta, ops = load_result(self.results[index])
        window = Window(*meta["window"])
        by_name = {f"sample_{k}": w for k, w in enumerate(self.writers.samples, start=1)}
        by_name.update(filled=self.writers.filled, spread=self.writers.spread)
        for name, bands, array, mask in ops:
            by_name[name].write_window(array, window, mask=mask, bands=bands)
        self.stats.pixels += meta["pixels"]
        self.stats.nodata_class += meta["nodata_class"]
        self.held_pixels += meta["held_pixels"]
        for mine, theirs in ((self.filled_holes, meta["filled_holes"]),
                             (self.dropped, meta["dropped"])):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        if meta["device"]:
            self.device = meta["device"]
        if meta["generated_dates"] and not self.generated_dates:
            self.generated_dates = list(meta["generated_dates"])
        for name, prov in meta["providers"].items():
            self.providers.setdefault(name, prov)
        return bool(meta["ran"])


def _writer_specs(writers: FillWriters) -> list[WriterSpec]:
    specs: list[WriterSpec] = [(f"sample_{k}", w.count, w.dtype.name, w.nodata)
                               for k, w in enumerate(writers.samples, start=1)]
    specs += [("filled", writers.filled.count, writers.filled.dtype.name, writers.filled.nodata),
              ("spread", writers.spread.count, writers.spread.dtype.name, writers.spread.nodata)]
    return specs


def run_graph_locally(job: FootprintJob, token: str, *, scheduler: str = "threads",
                      workers: int = 1) -> list[str]:
    """The footprint graph on dask's in-process scheduler (``sync`` or ``threads``)."""
    from dask.local import get_sync
    from dask.threaded import get as get_threaded

    keys = [f"copgen-footprint-{token}-{i}" for i in range(len(job.deps))]
    graph = {keys[i]: (run_footprint, job, i, *(keys[j] for j in d))
             for i, d in enumerate(job.deps)}
    if scheduler == "sync" or workers <= 1:
        return list(get_sync(graph, keys))
    return list(get_threaded(graph, keys, num_workers=workers))


def run_graph_on_cluster(job: FootprintJob, token: str, *, gpu: bool = False
                         ) -> tuple[list[str], int]:
    """The footprint graph submitted from inside a Dask worker (this task secedes while it
    waits, so its thread does not hold a worker slot): result paths, and how many footprint
    tasks the scheduler ran again after losing their worker."""
    from distributed import worker_client

    resources = {"GPU": 1} if gpu else None
    with worker_client() as client:
        job_future = client.scatter(job, broadcast=False, hash=False)
        futures: list[Any] = []
        for i, d in enumerate(job.deps):
            futures.append(client.submit(
                run_footprint, job_future, i, *(futures[j] for j in d),
                key=f"copgen-footprint-{token}-{i}", pure=False, resources=resources))
        paths = list(client.gather(futures))
        lost = client.run_on_scheduler(times_rescheduled, keys=[f.key for f in futures])
    return paths, sum(lost.values())


def times_rescheduled(keys: Sequence[str], dask_scheduler: Any = None) -> dict[str, int]:
    """Run on the scheduler: how often each task was on a worker that died (Dask's own
    count, ``TaskState.suspicious``)."""
    out = {}
    for key in keys:
        ts = dask_scheduler.tasks.get(key)
        if ts is not None:
            out[key] = int(getattr(ts, "suspicious", 0))
    return out


def in_dask_worker() -> bool:
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        get_worker()
    except ValueError:
        return False
    return True


class SplitRunnerFactory:
    """A ``run_fill`` runner factory that runs the footprints as a graph (on the cluster from
    inside a Dask worker, else on dask's in-process scheduler), then replays them."""

    def __init__(self, request: FillRequest, work_dir: Path, *, local_scheduler: str = "sync",
                 workers: int = 1, gpu: bool = False) -> None:
        self.request, self.work_dir = request, work_dir
        self.local_scheduler, self.workers, self.gpu = local_scheduler, workers, gpu
        self.runner: ReplayRunner | None = None
        self.wavefronts = 0
        self.rescheduled = 0

    def __call__(self, *, engine: Any, writers: FillWriters, feedback: RunFeedback,
                 **runner: Any) -> ReplayRunner:
        fp_plan: FootprintPlan = runner["fp_plan"]
        token = secrets.token_hex(6)
        folder = self.work_dir / token
        folder.mkdir(parents=True)
        job = FootprintJob(request=self.request, runner=runner,
                           writers=_writer_specs(writers), work_dir=folder,
                           deps=footprint_dependencies(fp_plan))
        levels = wavefronts(job.deps)
        self.wavefronts = max(levels) + 1
        feedback.info(f"{len(fp_plan)} footprints as tasks in {self.wavefronts} wavefronts "
                      f"(at most {max(levels.count(v) for v in set(levels))} in parallel)")
        if in_dask_worker():
            paths, self.rescheduled = run_graph_on_cluster(job, token, gpu=self.gpu)
        else:
            paths = run_graph_locally(job, token, scheduler=self.local_scheduler,
                                      workers=self.workers)
        self.runner = ReplayRunner(writers=writers, results=[Path(p) for p in paths])
        return self.runner
