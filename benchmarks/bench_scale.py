"""Batches on a Dask LocalCluster: scenes per minute with 1 and 2 workers (and 2 with
``--split-scene``), and the batch report of a run in which a worker is killed mid-scene.

Runs the demo model (``resources/models/copgen-demo``) on N copies of the demo scene (a folder
of scene folders, each a link to ``resources/demo``: s2l2a.tif with its gap, dem.tif,
s1rtc.tif, lulc.tif) with the demo's options, ORT at one thread, one thread per worker. Figures, not
claims: on a 2-core machine shared with other work, two workers cannot be twice one.

Usage: ``.venv/bin/python benchmarks/bench_scale.py [--scenes 4] [--samples 4] [--steps 10]
[--workdir build/bench_scale]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.fill.request import FillRequest  # noqa: E402
from copgen_plugin.scale import read_scenes, run_batch  # noqa: E402
from copgen_plugin.scale.runner import SCHEDULER_CONFIG  # noqa: E402
from copgen_plugin.scale.scenes import batch_request  # noqa: E402

logger = logging.getLogger("bench_scale")
DEMO = REPO / "resources" / "demo"
MODEL = REPO / "resources" / "models" / "copgen-demo"
OUTPUTS = ("filled.tif", "spread.tif")


def scene_folder(workdir: Path, n: int) -> Path:
    """``n`` scene folders, each a link to the demo scene."""
    root = workdir / "scenes"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for k in range(1, n + 1):
        (root / f"demo_{k}").symlink_to(DEMO, target_is_directory=True)
    return root


def base_request(samples: int, steps: int) -> FillRequest:
    """The demo's options (scripts/demo.sh), ORT at one thread."""
    return batch_request(str(MODEL), s1_scale="linear", date=dt.date(2021, 7, 15),
                         overlap_m=160.0, n_samples=samples, steps=steps, seed=1234,
                         device="cpu", threads=1)


def cluster(workers: int) -> tuple[Any, float]:
    import dask
    from distributed import LocalCluster

    start = time.monotonic()
    with dask.config.set(SCHEDULER_CONFIG):
        c = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=":0")
    return c, time.monotonic() - start


def kill_when_writing(address: str, out: Path, stop: threading.Event) -> str:
    """SIGKILL the worker running the first scene that starts writing its outputs."""
    from distributed import Client

    with Client(address) as client:
        while not stop.is_set():
            writing = [p.parent.name for p in out.glob("*/filled.partial-*")]
            for worker, keys in client.processing().items():
                if writing and any(f"copgen-scene-{writing[0]}-" in str(k) for k in keys):
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    return f"killed worker {worker} (pid {pid}) while it ran {writing[0]}"
            time.sleep(0.05)
    return "no worker was killed (the batch ended first)"


def same_outputs(a: Path, b: Path, names: list[str]) -> bool:
    return all((a / n / f).read_bytes() == (b / n / f).read_bytes()
               for n in names for f in OUTPUTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench_scale")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("XDG_CACHE_HOME", str(args.workdir / "cache"))
    scenes = read_scenes(scene_folder(args.workdir, args.scenes))
    names = [s.name for s in scenes]
    base = base_request(args.samples, args.steps)
    print(f"bench_scale: {len(scenes)} demo scenes (192 x 144 px), {args.samples} samples, "
          f"{args.steps} steps, ORT 1 thread per worker, {os.cpu_count()} CPU(s)")
    rows = []
    for workers, split in ((1, False), (2, False), (2, True)):
        out = args.workdir / f"out_{workers}{'_split' if split else ''}"
        shutil.rmtree(out, ignore_errors=True)
        c, startup = cluster(workers)
        try:
            report = run_batch(scenes, base, out, scheduler=c.scheduler_address,
                               split_scene=split)
        finally:
            c.close()
        assert report.ok, report.summary()
        rows.append((f"{workers}{' (--split-scene)' if split else ''}", startup, report, out))
    first = rows[0][2].scenes[0]
    print(f"each scene: {first.footprints_run} of {first.footprints_total} footprints run")
    print("| workers | cluster start (s) | batch (s) | scenes per minute |")
    print("|---|---|---|---|")
    for label, startup, report, _ in rows:
        print(f"| {label} | {startup:.1f} | {report.seconds:.1f} | "
              f"{60.0 * len(report.scenes) / report.seconds:.2f} |")
    for label, _, _, out in rows[1:]:
        print(f"outputs of {label} workers identical to 1 worker: "
              f"{same_outputs(args.workdir / 'out_1', out, names)}")

    out = args.workdir / "out_killed"
    shutil.rmtree(out, ignore_errors=True)
    c, _ = cluster(2)
    stop = threading.Event()
    done: dict[str, Any] = {}
    killer = threading.Thread(target=lambda: done.update(what=kill_when_writing(
        c.scheduler_address, out, stop)))
    try:
        killer.start()
        done["report"] = run_batch(scenes, base, out, scheduler=c.scheduler_address)
    finally:
        stop.set()
        killer.join()
        c.close()
    print(f"\nbatch report of a run with a worker killed ({done['what']}):")
    print("\n".join(done["report"].summary()))
    leftovers = [p.name for p in out.rglob("*.partial-*")]
    print(f"outputs identical to the 1-worker run: "
          f"{same_outputs(args.workdir / 'out_1', out, names)}; partial files left: "
          f"{len(leftovers)}; completion markers: {len(list(out.glob('*/.copgen-complete.json')))}")


if __name__ == "__main__":
    main()
