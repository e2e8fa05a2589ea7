"""Batches on a real ``distributed.LocalCluster`` of 2 worker processes (one per module):
equivalence with serial ``run_fill`` runs, ``--split-scene``, a bad scene failing alone, a
worker killed mid-scene."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from copgen_plugin.scale.engines import engines_held
from copgen_plugin.scale.runner import SCHEDULER_CONFIG, run_batch
from copgen_plugin.scale.scenes import Scene
from tests.scale.helpers import assert_same_outputs, base_request, scene_raster, serial

distributed = pytest.importorskip("distributed")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import dask

    with dask.config.set(SCHEDULER_CONFIG), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster.scheduler_address) as c:
        yield c


def test_four_scenes_equal_serial_runs_a_bad_scene_fails_alone_and_reruns_skip(
        tmp_path: Path, package: Path, cluster: Any, client: Any) -> None:
    scenes = [Scene(f"s{k}", {"input": scene_raster(tmp_path / "in" / f"s{k}.tif", (90, 110),
                                                    seed=k)}) for k in range(4)]
    broken = tmp_path / "in" / "broken.tif"
    broken.write_text("not a raster")
    base = base_request(package)
    reference = serial(base, scenes, tmp_path / "serial")
    out = tmp_path / "batch"
    report = run_batch([*scenes[:2], Scene("broken", {"input": broken}), *scenes[2:]], base,
                       out, scheduler=cluster.scheduler_address)
    status = {s.name: s for s in report.scenes}
    assert [s.name for s in report.scenes] == ["s0", "s1", "broken", "s2", "s3"]
    assert all(status[f"s{k}"].status == "done" for k in range(4))
    assert {status[f"s{k}"].device for k in range(4)} == {"cpu"}
    assert {status[f"s{k}"].worker for k in range(4)} <= set(client.scheduler_info()["workers"])
    bad = status["broken"]
    assert bad.status == "failed" and "broken.tif" in bad.error and bad.rescheduled == 0
    assert not (out / "broken").exists()  # nothing left for the failed scene
    assert not report.ok and report.count("done") == 4 and report.rescheduled == 0
    assert_same_outputs(out, reference, [s.name for s in scenes])
    # one engine per worker process, kept with its sessions for the next scene
    held = client.run(engines_held)
    assert all(len(v) <= 1 for v in held.values()) and sum(map(len, held.values())) >= 1
    for engines in held.values():
        for root, sessions in engines:
            assert root == package.resolve() and "denoiser" in sessions

    again = run_batch(scenes, base, out, scheduler=cluster.scheduler_address)
    assert [s.status for s in again.scenes] == ["skipped"] * 4
    assert_same_outputs(out, reference, [s.name for s in scenes])


@pytest.mark.slow  # 2 x 16 footprints: about 30 s on 2 idle cores
def test_split_scene_on_4x4_footprints_equals_the_sequential_scan(
        tmp_path: Path, package: Path, cluster: Any) -> None:
    # 672 px = 192 + 3 x 160: 4 x 4 footprints of 192 px overlapping by 32 px
    scene = Scene("big", {"input": scene_raster(tmp_path / "big.tif", (672, 672), seed=3,
                                                margin=4)})
    base = base_request(package, steps=1)
    reference = serial(base, [scene], tmp_path / "serial")
    out = tmp_path / "batch"
    report = run_batch([scene], base, out, scheduler=cluster.scheduler_address,
                       split_scene=True)
    (result,) = report.scenes
    assert result.status == "done", result.error
    assert result.footprints_total == result.footprints_run == 16
    assert_same_outputs(out, reference, ["big"])


def _kill_worker_running(client: Any, prefix: str, folder: Path, timeout: float = 120) -> int:
    """Wait until the scene task writes its outputs, then SIGKILL the worker running it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(".partial-" in p.name for p in folder.rglob("*")):
            for address, keys in client.processing().items():
                if any(str(k).startswith(prefix) for k in keys):
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    return pid
        time.sleep(0.05)
    raise AssertionError(f"no task {prefix}* was seen writing {folder}")


def test_a_worker_killed_mid_scene_is_rescheduled_and_changes_nothing(
        tmp_path: Path, package: Path, cluster: Any, client: Any) -> None:
    scenes = [Scene("long", {"input": scene_raster(tmp_path / "long.tif", (352, 352), seed=5,
                                                   margin=4)}),
              Scene("short", {"input": scene_raster(tmp_path / "short.tif", (80, 90),
                                                    seed=6)})]
    base = base_request(package)
    reference = serial(base, scenes, tmp_path / "serial")
    out = tmp_path / "batch"
    done: dict[str, Any] = {}
    driver = threading.Thread(target=lambda: done.update(report=run_batch(
        scenes, base, out, scheduler=cluster.scheduler_address)))
    driver.start()
    killed = _kill_worker_running(client, "copgen-scene-long-", out / "long")
    driver.join(timeout=300)
    report = done["report"]
    long, short = report.scenes
    assert long.status == "done" and long.rescheduled == 1 and long.pid != killed
    assert short.status == "done" and short.rescheduled == 0
    assert report.rescheduled == 1
    assert "1 task(s) rescheduled after a lost worker" in report.summary()[-1]
    assert_same_outputs(out, reference, ["long", "short"])


def test_cuda_scenes_go_to_the_worker_with_a_gpu_resource(
        tmp_path: Path, package: Path, cluster: Any, client: Any) -> None:
    """A third worker declares ``--resources GPU=1`` (as one worker per GPU does): scenes asked
    for on CUDA run there only; the device actually used is reported (this onnxruntime has no
    CUDA: the CPU, with the engine's warning)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
         "--nthreads", "1", "--resources", "GPU=1", "--name", "gpu0", "--no-dashboard"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(3, timeout=180)
        gpu = [a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
               if w["name"] == "gpu0"]
        scenes = [Scene(f"g{k}", {"input": scene_raster(tmp_path / f"g{k}.tif", (60, 70),
                                                        seed=k)}) for k in range(2)]
        report = run_batch(scenes, base_request(package, device="cuda"), tmp_path / "out",
                           scheduler=cluster.scheduler_address)
        assert [(s.status, s.worker) for s in report.scenes] == [("done", gpu[0])] * 2
        assert {s.device for s in report.scenes} == {"cpu"}
    finally:
        worker.terminate()
        worker.wait(timeout=60)
