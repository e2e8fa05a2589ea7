"""The scene task: one idempotent ``run_fill`` of one scene, on whichever worker runs it.

Finished scenes (their marker matches) are skipped; otherwise what an earlier attempt left is
cleared, the scene runs with this worker's engine, and the completion marker is written last.
Bad input (and any other error of the scene itself) is returned as a failed result, not
raised: the scheduler would retry a raising task, and retrying bad input only fails again. A
worker that dies mid-scene raises nothing here: the scheduler reschedules the task.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass

from ..errors import Cancelled, CopgenError
from ..fill.model import open_package
from ..fill.progress import CancelFn, LogFn, ProgressFn
from ..fill.request import FillRequest
from ..fill.run import run_fill
from .engines import leased_engine
from .marker import WORK_DIR, clear_stale, is_complete, request_hash, scene_folder, write_marker
from .report import SceneResult
from .split import SplitRunnerFactory

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneOptions:
    """How a scene runs: split into footprint tasks or not, and for a split scene outside a
    Dask worker, dask's in-process scheduler (``sync`` / ``threads``) and its threads."""

    split_scene: bool = False
    local_scheduler: str = "sync"
    workers: int = 1
    gpu: bool = False


def worker_name() -> str:
    """The Dask worker running this task, else the process and thread."""
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        return str(get_worker().address)
    return f"in-process ({threading.current_thread().name})"


def run_scene(name: str, request: FillRequest, options: SceneOptions, *,
              progress: ProgressFn | None = None, cancel: CancelFn | None = None,
              log: LogFn | None = None) -> SceneResult:
    """Fill one scene unless its outputs are already complete; never raises for the scene's
    own errors (they are in the result)."""
    started = time.monotonic()
    folder = scene_folder(request)
    result = SceneResult(name=name, status="failed", folder=str(folder),
                         worker=worker_name(), pid=os.getpid())
    created = not folder.exists()
    try:
        digest = request_hash(request, open_package(request.model))
        if is_complete(request, digest):
            result.status = "skipped"
            return result
        folder.mkdir(parents=True, exist_ok=True)
        removed = clear_stale(request)
        if removed:
            _log.info("scene %s: removed %d stale file(s) of an unfinished attempt", name,
                      len(removed))
        factory = None
        if options.split_scene:  # footprint tasks lease engines; this task only writes
            factory = SplitRunnerFactory(request, folder / WORK_DIR,
                                         local_scheduler=options.local_scheduler,
                                         workers=options.workers, gpu=options.gpu)
            report = run_fill(request, progress=progress, cancel=cancel, log=log,
                              runner_factory=factory)
        else:
            with leased_engine(request) as engine:
                report = run_fill(request, progress=progress, cancel=cancel, log=log,
                                  engine=engine)
        if factory is not None and factory.runner is not None:
            report.providers = factory.runner.providers
            result.rescheduled_footprints = factory.rescheduled
        shutil.rmtree(folder / WORK_DIR, ignore_errors=True)
        result.device = report.device
        result.footprints_run = report.footprints_run
        result.footprints_total = report.footprints_total
        write_marker(request, digest, {"scene": name, "device": report.device,
                                       "providers": report.providers,
                                       "worker": result.worker,
                                       "footprints_run": report.footprints_run,
                                       "seconds": report.seconds})
        result.status = "done"
    except Cancelled as exc:
        result.status, result.error = "cancelled", str(exc)
    except CopgenError as exc:
        result.error = str(exc)
    except Exception as exc:  # the scene's own failure: reported, not retried
        _log.exception("scene %s failed", name)
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.seconds = time.monotonic() - started
        if result.status not in ("done", "skipped"):
            shutil.rmtree(folder / WORK_DIR, ignore_errors=True)
            if created:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
    return result
