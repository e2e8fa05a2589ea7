"""``python -m copgen_plugin gapfill-batch`` in a subprocess: the driver killed mid-batch,
then the same command again runs only the unfinished scenes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from copgen_plugin.scale.scenes import Scene
from tests.scale.helpers import assert_same_outputs, base_request, scene_raster, serial

REPO = Path(__file__).resolve().parents[2]


def _command(table: Path, package: Path, out: Path) -> list[str]:
    # the options of helpers.base_request, spelled as the CLI's
    return [sys.executable, "-m", "copgen_plugin", "gapfill-batch", str(table), "--model",
            str(package), "--out", str(out), "--scheduler", "sync", "--samples", "2",
            "--steps", "2", "--seed", "7", "--date", "2021-06-01", "--threads", "1",
            "--device", "cpu", "--no-harmonise"]


def test_killed_driver_then_the_same_command_runs_only_unfinished_scenes(
        tmp_path: Path, package: Path) -> None:
    shapes = {"first": (70, 80), "second": (352, 352), "third": (60, 90)}
    scenes = [Scene(name, {"input": scene_raster(tmp_path / "in" / f"{name}.tif", shape,
                                                 seed=k, margin=4)})
              for k, (name, shape) in enumerate(shapes.items())]
    table = tmp_path / "scenes.json"
    table.write_text(json.dumps([{"name": s.name, "input": f"in/{s.name}.tif"} for s in scenes]))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(_command(table, package, out), cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    finished: set[str] = set()
    try:
        end = time.monotonic() + 300
        while time.monotonic() < end and driver.poll() is None:
            finished = {n for n in shapes if (out / n / ".copgen-complete.json").is_file()}
            running = {n for n in shapes if (out / n).is_dir()
                       and any(".partial-" in p.name for p in (out / n).rglob("*"))}
            if finished and running - finished:
                os.killpg(driver.pid, signal.SIGKILL)  # the driver, mid-scene
                break
            time.sleep(0.02)
    finally:
        driver.wait(timeout=60)
    assert driver.returncode == -signal.SIGKILL, "the driver finished before it was killed"
    unfinished = [n for n in shapes if n not in finished]
    assert any(".partial-" in p.name for n in unfinished for p in (out / n).rglob("*"))

    proc = subprocess.run([*_command(table, package, out), "--json", "--quiet"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert {s["name"]: s["status"] for s in report["scenes"]} == {
        n: "skipped" if n in finished else "done" for n in shapes}
    reference = serial(base_request(package), scenes, tmp_path / "serial")
    assert_same_outputs(out, reference, list(shapes))


def test_cli_batch_errors_exit_1_with_one_line(tmp_path: Path, package: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "copgen_plugin", "gapfill-batch",
                           str(tmp_path / "none.json"), "--model", str(package), "--out",
                           str(tmp_path / "out"), "--scheduler", "sync"], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: scenes: ")
