"""Batches on dask's in-process schedulers (what QGIS uses): split scenes on threads, reruns
that redo only what is unfinished, leftovers of a killed attempt, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copgen_plugin.errors import InputError
from copgen_plugin.scale.runner import run_batch
from copgen_plugin.scale.scenes import Scene
from tests.scale.helpers import assert_same_outputs, base_request, scene_raster, serial


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory: pytest.TempPathFactory, package: Path
               ) -> tuple[list[Scene], Path]:
    """A 2 x 2 footprint scene and a one-footprint scene, with their serial reference."""
    root = tmp_path_factory.mktemp("scenes")
    scenes = [Scene("quad", {"input": scene_raster(root / "quad.tif", (352, 352), seed=2,
                                                   margin=4)}),
              Scene("one", {"input": scene_raster(root / "one.tif", (70, 90), seed=4)})]
    return scenes, serial(base_request(package), scenes, root / "serial")


def test_threads_with_split_scenes_equal_serial_runs(tmp_path: Path, package: Path,
                                                     two_scenes: tuple[list[Scene], Path]
                                                     ) -> None:
    scenes, reference = two_scenes
    messages: list[str] = []
    progress: list[float] = []
    report = run_batch(scenes, base_request(package), tmp_path, scheduler="threads:2",
                       split_scene=True, log=messages.append,
                       progress=lambda f, _m: progress.append(f))
    assert [(s.name, s.status, s.footprints_run) for s in report.scenes] == [
        ("quad", "done", 4), ("one", "done", 1)]
    assert all(s.worker.startswith("in-process") for s in report.scenes)
    assert_same_outputs(tmp_path, reference, ["quad", "one"])
    assert sorted(progress) == [0.5, 1.0] and len(messages) == 2
    saved = json.loads((tmp_path / "batch_report.json").read_text())
    assert saved["totals"]["done"] == 2 and saved["split_scene"] is True


def test_rerun_redoes_only_unfinished_scenes_and_clears_leftovers(
        tmp_path: Path, package: Path, two_scenes: tuple[list[Scene], Path]) -> None:
    scenes, reference = two_scenes
    base = base_request(package)
    run_batch(scenes, base, tmp_path, scheduler="sync")
    # "one" as a killed attempt leaves it: an output missing, partial files, no marker
    one = tmp_path / "one"
    (one / "spread.tif").unlink()
    (one / ".copgen-complete.json").unlink()
    (one / "filled.partial-0badf00d.tif").write_bytes(b"half")
    (one / "samples" / "sample_2.partial-0badf00d.tif").write_bytes(b"half")
    before = (tmp_path / "quad" / "filled.tif").stat().st_mtime_ns
    report = run_batch(scenes, base, tmp_path, scheduler="sync")
    assert [(s.name, s.status) for s in report.scenes] == [("quad", "skipped"), ("one", "done")]
    assert (tmp_path / "quad" / "filled.tif").stat().st_mtime_ns == before  # not rewritten
    assert_same_outputs(tmp_path, reference, ["quad", "one"])


def test_cancel_stops_before_the_next_scene_and_leaves_nothing(
        tmp_path: Path, package: Path, two_scenes: tuple[list[Scene], Path]) -> None:
    scenes, _ = two_scenes
    report = run_batch(scenes, base_request(package), tmp_path, scheduler="sync",
                       cancel=lambda: True)
    assert [s.status for s in report.scenes] == ["cancelled", "cancelled"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch_report.json"]


def test_local_clusters_are_refused_in_process_only_mode(tmp_path: Path, package: Path,
                                                         two_scenes: tuple[list[Scene], Path]
                                                         ) -> None:
    with pytest.raises(InputError, match="in-process schedulers"):
        run_batch(two_scenes[0], base_request(package), tmp_path / "out", scheduler="local:2",
                  in_process_only=True)
    assert not (tmp_path / "out").exists()


def test_run_fill_refuses_an_engine_of_another_package(tmp_path: Path, package: Path,
                                                       two_scenes: tuple[list[Scene], Path]
                                                       ) -> None:
    import dataclasses
    import shutil

    from copgen_plugin.fill.run import run_fill
    from copgen_plugin.scale.engines import leased_engine
    from copgen_plugin.scale.scenes import scene_request

    other = Path(shutil.copytree(package, tmp_path / "other_package"))
    req = scene_request(base_request(package), two_scenes[0][1], tmp_path / "out")
    req.outputs.filled.parent.mkdir(parents=True)
    with leased_engine(dataclasses.replace(req, model=str(other))) as engine, \
            pytest.raises(InputError, match="the engine given holds"):
        run_fill(req, engine=engine)
    assert list(req.outputs.filled.parent.iterdir()) == []
