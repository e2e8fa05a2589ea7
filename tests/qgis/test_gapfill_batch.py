"""copgen:gapfill_batch through qgis_process (2 scenes, in-process) and its refusal of a
scheduler that would spawn processes inside QGIS."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import processing
import pytest
import rasterio
from qgis.core import QgsProcessingException
from qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env


def _scenes(scene: dict[str, Path], tmp_path: Path) -> Path:
    table = tmp_path / "scenes.json"
    table.write_text(json.dumps([
        {"name": "with_dem", "input": str(scene["s2"]), "dem": str(scene["dem"])},
        {"name": "alone", "input": str(scene["s2"]), "date": "2021-07-01"}]))
    return table


def test_qgis_process_gapfill_batch_two_scenes_in_process(
        tiny_package: Path, s2_scene: dict[str, Path], tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    exe = "/usr/bin/qgis_process.bin"
    subprocess.run([exe, "plugins", "enable", PLUGIN_NAME], env=env, check=True,
                   capture_output=True, timeout=180)
    out = tmp_path / "out"
    params = {"SCENES": _scenes(s2_scene, tmp_path), "MODEL": tiny_package, "N_SAMPLES": 2,
              "STEPS": 2, "SEED": 5, "DEVICE": 2, "DATE": "2021-06-01",
              "SCHEDULER": "threads:2", "THREADS": 1, "HARMONISE": "false",
              "OUTPUT_FOLDER": out}
    args = [f"{k}={v}" for k, v in params.items()]
    proc = subprocess.Popen([exe, "run", "copgen:gapfill_batch", "--json", "--", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    result = json.loads(stdout[stdout.index("{"):])["results"]
    assert result["SCENES_DONE"] == 2 and result["SCENES_FAILED"] == 0
    report = json.loads(Path(result["REPORT"]).read_text())
    assert report["scheduler"] == "threads:2"
    with rasterio.open(s2_scene["s2"]) as src:
        observed = src.read()
    gap = (observed == 0).any(axis=0)
    for scene in report["scenes"]:
        assert scene["status"] == "done" and scene["device"] == "cpu"
        # run inside the qgis_process process itself: no worker process was started
        assert scene["pid"] == proc.pid and scene["worker"].startswith("in-process")
        folder = out / scene["name"]
        for path in [folder / "filled.tif", *sorted((folder / "samples").glob("*.tif"))]:
            with rasterio.open(path) as ds:
                values = ds.read()
            assert np.array_equal(values[:, ~gap], observed[:, ~gap])  # bit for bit
            assert (values[:, gap] != 0).all()
        assert (folder / ".copgen-complete.json").is_file()
    assert len(list((out / "alone" / "samples").glob("sample_*.tif"))) == 2


def test_a_process_spawning_scheduler_is_refused_in_qgis(
        copgen_plugin: Any, tiny_package: Path, s2_scene: dict[str, Path],
        tmp_path: Path) -> None:
    params = {"SCENES": str(_scenes(s2_scene, tmp_path)), "MODEL": str(tiny_package),
              "SCHEDULER": "local:2", "OUTPUT_FOLDER": str(tmp_path / "out")}
    with pytest.raises(QgsProcessingException, match="in-process schedulers"):
        processing.run("copgen:gapfill_batch", params)
    assert not (tmp_path / "out" / "with_dem").exists()
