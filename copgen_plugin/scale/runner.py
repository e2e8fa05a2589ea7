"""Run a batch of scenes on a Dask scheduler and collect the batch report.

Schedulers (``--scheduler``):

* ``sync``: dask's synchronous scheduler, one scene after the other in this thread;
* ``threads[:N]``: dask's threaded scheduler, N scenes at a time in this process (default 2);
* ``local:N``: a ``distributed.LocalCluster`` of N worker processes of one thread each, started
  for the batch and closed after it;
* ``tcp://host:port`` (or any address ``distributed.Client`` accepts): an existing cluster.

Inside QGIS ``sys.executable`` is the QGIS binary, so a scheduler that spawns Python
processes would start QGIS again: ``in_process_only`` refuses ``local:N`` (an existing
cluster's address is fine: its workers are started elsewhere).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fill.progress import CancelFn, LogFn, ProgressFn
from ..fill.request import FillRequest
from .report import BatchReport, SceneResult
from .scenes import Scene, scene_request
from .split import times_rescheduled
from .task import SceneOptions, run_scene

_log = logging.getLogger(__name__)

IN_PROCESS = ("sync", "threads")
DEFAULT_THREADS = 2
#: in a large batch a worker takes a scene when it has a free thread rather than queueing
#: several (scenes are long; docs/SCALE.md)
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}


@dataclass(frozen=True)
class Scheduler:
    """A parsed ``--scheduler`` value."""

    kind: str  # sync | threads | local | address
    workers: int = 1
    address: str = ""

    @property
    def text(self) -> str:
        if self.kind == "address":
            return self.address
        return self.kind if self.kind == "sync" else f"{self.kind}:{self.workers}"


def parse_scheduler(text: str) -> Scheduler:
    """``sync``, ``threads[:N]``, ``local:N`` or a scheduler address."""
    t = text.strip()
    kind, _, count = t.partition(":")
    if kind in ("sync", "threads", "local") and "//" not in t:
        if kind == "sync":
            if count:
                raise InputError("scheduler 'sync' takes no worker count")
            return Scheduler("sync")
        try:
            n = int(count) if count else (DEFAULT_THREADS if kind == "threads" else 0)
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"scheduler {t!r}: give a worker count >= 1, e.g. {kind}:2")
        return Scheduler(kind, workers=n)
    if "://" in t or (":" in t and count.isdigit()):
        return Scheduler("address", address=t)
    raise InputError(f"unknown scheduler {t!r}: use sync, threads[:N], local:N or "
                     "tcp://host:port")


def run_batch(scenes: Sequence[Scene], base: FillRequest, out_dir: Path, *,
              scheduler: str = "threads", split_scene: bool = False,
              in_process_only: bool = False, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None, log: LogFn | None = None) -> BatchReport:
    """Fill every scene into ``out_dir/<name>/`` and return (and write) the batch report.

    ``base`` holds the options shared by all scenes (see ``scenes.scene_request``). Scenes
    that are complete are skipped; a failing scene fails alone."""
    sched = parse_scheduler(scheduler)
    if in_process_only and sched.kind == "local":
        raise InputError("inside QGIS only the in-process schedulers (sync, threads) or an "
                         "existing cluster's address can be used: a local cluster would start "
                         "QGIS itself as its workers")
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise InputError(f"output folder {out_dir}: its parent folder does not exist")
    out_dir.mkdir(exist_ok=True)
    requests = [(s.name, scene_request(base, s, out_dir)) for s in scenes]
    report = BatchReport(scheduler=sched.text, split_scene=split_scene, out_dir=str(out_dir))
    collector = _Collector(report, out_dir, len(requests), progress, log)
    started = time.monotonic()
    gpu = base.device == "cuda"
    if sched.kind in IN_PROCESS:
        options = SceneOptions(split_scene=split_scene, local_scheduler=sched.kind,
                               workers=sched.workers, gpu=gpu)
        _run_in_process(requests, options, sched, collector, cancel)
    else:
        _run_distributed(requests, SceneOptions(split_scene=split_scene, gpu=gpu), sched,
                         collector, cancel)
    report.seconds = time.monotonic() - started
    order = {name: k for k, (name, _) in enumerate(requests)}
    report.scenes.sort(key=lambda s: order[s.name])
    report.write(out_dir)
    return report


class _Collector:
    """Receives finished scenes (from any thread): report, progress, log, report file."""

    def __init__(self, report: BatchReport, out_dir: Path, total: int,
                 progress: ProgressFn | None, log: LogFn | None) -> None:
        self.report, self.out_dir, self.total = report, out_dir, total
        self.progress, self.log = progress, log
        self.lock = threading.Lock()

    def add(self, result: SceneResult) -> None:
        with self.lock:
            self.report.scenes.append(result)
            self.report.write(self.out_dir)
            done = len(self.report.scenes)
        line = self.report.summary()[done - 1]
        _log.info("%s", line)
        if self.log is not None:
            self.log(line)
        if self.progress is not None:
            self.progress(done / max(self.total, 1), f"{done}/{self.total} scenes")


def _run_in_process(requests: Sequence[tuple[str, FillRequest]], options: SceneOptions,
                    sched: Scheduler, collector: _Collector, cancel: CancelFn | None) -> None:
    from dask.base import compute
    from dask.delayed import delayed

    def one(name: str, request: FillRequest) -> None:
        if cancel is not None and cancel():
            collector.add(SceneResult(name=name, status="cancelled",
                                      error="the batch was cancelled before this scene"))
            return
        collector.add(run_scene(name, request, options, cancel=cancel))

    tasks = [delayed(one, pure=False)(name, req) for name, req in requests]
    if sched.kind == "sync":
        compute(*tasks, scheduler="sync")
    else:
        compute(*tasks, scheduler="threads", num_workers=sched.workers)


def _open_client(sched: Scheduler) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("the 'distributed' package is needed for local:N and cluster "
                         "addresses; install it (pip install distributed) or use "
                         "--scheduler threads") from None
    if sched.kind == "local":
        import dask

        with dask.config.set(SCHEDULER_CONFIG):
            cluster = LocalCluster(n_workers=sched.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
        return Client(cluster), cluster
    try:
        return Client(sched.address, timeout="20s"), None
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {sched.address}: {exc}") from None


def _run_distributed(requests: Sequence[tuple[str, FillRequest]], options: SceneOptions,
                     sched: Scheduler, collector: _Collector, cancel: CancelFn | None) -> None:
    from distributed import as_completed

    client, cluster = _open_client(sched)
    try:
        token = secrets.token_hex(4)
        resources = {"GPU": 1} if options.gpu and not options.split_scene else None
        futures = {client.submit(run_scene, name, req, options, pure=False,
                                 key=f"copgen-scene-{name}-{token}", resources=resources): name
                   for name, req in requests}
        pending = as_completed(list(futures))
        for future in pending:
            name = futures[future]
            lost = client.run_on_scheduler(times_rescheduled, keys=[future.key])
            try:
                result = future.result()
            except Exception as exc:  # e.g. KilledWorker: lost more often than allowed
                result = SceneResult(name=name, status="lost",
                                     error=f"{type(exc).__name__}: {exc}")
            result.rescheduled = lost.get(future.key, 0)
            future.release()
            collector.add(result)
            if cancel is not None and cancel():
                for other in futures:
                    if not other.done():
                        other.cancel()
                        collector.add(SceneResult(name=futures[other], status="cancelled",
                                                  error="the batch was cancelled"))
                break
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
