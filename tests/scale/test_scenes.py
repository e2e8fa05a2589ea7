"""Scene lists (folder, JSON, CSV, glob), each scene's request, schedulers, markers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.errors import InputError
from copgen_plugin.fill.model import open_package
from copgen_plugin.fill.request import LayerInput
from copgen_plugin.scale.marker import (
    MARKER,
    clear_stale,
    is_complete,
    request_hash,
    write_marker,
)
from copgen_plugin.scale.runner import Scheduler, parse_scheduler
from copgen_plugin.scale.scenes import Scene, read_scenes, scene_request
from tests.fill.helpers import write_tif
from tests.scale.helpers import base_request


def _tif(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tif(path, np.ones((1, 4, 4), np.int16))


def test_a_folder_of_scene_folders(tmp_path: Path) -> None:
    a = tmp_path / "scenes" / "tile_a"
    for stem in ("s2l2a", "dem", "mask", "s2l2a_truth"):
        _tif(a / f"{stem}.tif")
    (a / "scene.json").write_text(json.dumps({"date": "2021-07-01", "seed": 3}))
    b = tmp_path / "scenes" / "tile_b"
    for stem in ("input", "s1rtc", "lulc"):
        _tif(b / f"{stem}.tif")
    (tmp_path / "scenes" / "notes").mkdir()  # no input layer: not a scene
    scenes = read_scenes(tmp_path / "scenes")
    assert [s.name for s in scenes] == ["tile_a", "tile_b"]
    assert scenes[0].options == {"input": a / "s2l2a.tif", "dem": a / "dem.tif",
                                 "mask": a / "mask.tif", "date": dt.date(2021, 7, 1)}
    assert scenes[1].options == {"input": b / "input.tif", "s1": b / "s1rtc.tif",
                                 "lulc": b / "lulc.tif"}
    # another target modality: s2l2a.tif is then a condition, dem.tif the input
    (tmp_path / "scenes" / "tile_b" / "input.tif").unlink()
    dem_scenes = read_scenes(tmp_path / "scenes", modality="DEM")
    assert [s.name for s in dem_scenes] == ["tile_a"]
    assert dem_scenes[0].options["s2l2a"] == a / "s2l2a.tif"


def test_json_csv_and_glob_tables(tmp_path: Path) -> None:
    s1 = _tif(tmp_path / "in" / "one" / "s2.tif")
    _tif(tmp_path / "in" / "one" / "dem.tif")
    _tif(tmp_path / "in" / "two" / "s2.tif")
    table = tmp_path / "scenes.json"
    table.write_text(json.dumps([{"name": "x", "input": "in/one/s2.tif", "dem": "in/one/dem.tif",
                                  "date": "2021-06-01", "nodata": 0},
                                 {"input": "in/two/s2.tif"}]))
    scenes = read_scenes(table)
    assert [s.name for s in scenes] == ["x", "s2"]
    assert scenes[0].options == {"input": s1, "dem": s1.parent / "dem.tif",
                                 "date": dt.date(2021, 6, 1), "nodata": 0.0}
    csv = tmp_path / "scenes.csv"
    csv.write_text("name,input,dem,date\nx,in/one/s2.tif,in/one/dem.tif,2021-06-01\n"
                   "y,in/two/s2.tif,,\n")
    rows = read_scenes(csv)
    assert [(s.name, sorted(s.options)) for s in rows] == [
        ("x", ["date", "dem", "input"]), ("y", ["input"])]
    globbed = read_scenes(str(tmp_path / "in" / "*" / "s2.tif"))
    assert [(s.name, sorted(s.options)) for s in globbed] == [
        ("one", ["dem", "input"]), ("two", ["input"])]


@pytest.mark.parametrize(("rows", "message"), [
    ([{"input": "a.tif", "samples": 3}], "unknown key(s) ['samples']"),
    ([{"name": "a", "input": "a.tif"}, {"name": "a", "input": "b.tif"}], "used twice"),
    ([{"name": "../up", "input": "a.tif"}], "not a plain folder name"),
    ([{"dem": "a.tif"}], "has no 'input'"),
    ([{"input": "a.tif", "date": "June"}], "date: 'June' is not a date like 2021-06-01"),
    ({"input": "a.tif"}, "must hold a JSON list"),
])
def test_bad_tables_say_what_is_wrong(tmp_path: Path, rows: object, message: str) -> None:
    table = tmp_path / "scenes.json"
    table.write_text(json.dumps(rows))
    with pytest.raises(InputError, match=re.escape(message)):
        read_scenes(table)


def test_no_scene_and_unknown_source(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="lists no scene"):
        read_scenes(tmp_path / "empty")
    with pytest.raises(InputError, match=r"is not a folder, a \.json or \.csv table"):
        read_scenes(tmp_path / "nothing.txt")


def test_scene_request_uses_the_batch_options_and_regional_conditions(
        tmp_path: Path, package: Path) -> None:
    regional_dem = tmp_path / "region_dem.tif"
    base = dataclasses.replace(base_request(package, seed=11),
                               conditions=(LayerInput(regional_dem, "DEM"),))
    own = Scene("a", {"input": tmp_path / "a.tif", "lulc": tmp_path / "a_lulc.tif",
                      "date": dt.date(2020, 1, 2), "nodata": 0.0})
    req = scene_request(base, own, tmp_path / "out")
    assert req.target == LayerInput(tmp_path / "a.tif", "S2L2A", nodata=0.0)
    assert [(c.path.name, c.modality) for c in req.conditions] == [
        ("region_dem.tif", "DEM"), ("a_lulc.tif", "LULC")]
    assert req.date == dt.date(2020, 1, 2) and req.seed == 11 and req.n_samples == 2
    assert req.outputs.filled == tmp_path / "out" / "a" / "filled.tif"
    assert req.outputs.samples_dir == tmp_path / "out" / "a" / "samples"
    with_dem = scene_request(base, Scene("b", {"input": tmp_path / "b.tif",
                                                "dem": tmp_path / "b_dem.tif"}), tmp_path)
    assert [c.path.name for c in with_dem.conditions] == ["b_dem.tif"]  # its own DEM wins
    with pytest.raises(InputError, match="target's own modality"):
        scene_request(base, Scene("c", {"input": tmp_path / "c.tif",
                                        "s2l2a": tmp_path / "x.tif"}), tmp_path)


@pytest.mark.parametrize(("text", "expected"), [
    ("sync", Scheduler("sync")), ("threads", Scheduler("threads", workers=2)),
    ("threads:3", Scheduler("threads", workers=3)), ("local:4", Scheduler("local", workers=4)),
    ("tcp://10.0.0.1:8786", Scheduler("address", address="tcp://10.0.0.1:8786")),
])
def test_schedulers(text: str, expected: Scheduler) -> None:
    assert parse_scheduler(text) == expected


@pytest.mark.parametrize("text", ["local", "local:0", "threads:x", "sync:2", "slurm"])
def test_bad_schedulers(text: str) -> None:
    with pytest.raises(InputError, match="scheduler"):
        parse_scheduler(text)


def test_marker_and_stale_files(tmp_path: Path, package: Path) -> None:
    target = _tif(tmp_path / "t.tif")
    req = scene_request(base_request(package), Scene("a", {"input": target}), tmp_path / "out")
    folder = req.outputs.filled.parent
    req.outputs.samples_dir.mkdir(parents=True)
    outputs = [req.outputs.filled, req.outputs.spread, req.outputs.samples_dir / "sample_1.tif",
               req.outputs.samples_dir / "sample_2.tif"]
    for k, p in enumerate(outputs):
        p.write_bytes(bytes([k]) * 10)
    digest = request_hash(req, open_package(req.model))
    assert not is_complete(req, digest)  # no marker yet
    write_marker(req, digest, {"scene": "a"})
    assert is_complete(req, digest)
    other = request_hash(dataclasses.replace(req, seed=req.seed + 1), open_package(req.model))
    assert other != digest and not is_complete(req, other)
    assert request_hash(dataclasses.replace(req, threads=7), open_package(req.model)) == digest
    outputs[2].write_bytes(b"changed")  # an output changed after the marker: not complete
    assert not is_complete(req, digest)

    leftovers = [folder / "filled.partial-1a2b3c4d.tif", folder / "spread.partial-00ff00ff.tif",
                 req.outputs.samples_dir / "sample_2.partial-deadbeef.tif",
                 folder / ".copgen-work" / "abc" / "footprint_000000.npz"]
    leftovers[-1].parent.mkdir(parents=True)
    for p in leftovers:
        p.write_bytes(b"x")
    mine = [folder / "notes.txt", folder / "filled_backup.tif"]
    for p in mine:
        p.write_bytes(b"user's")
    removed = clear_stale(req)
    assert {p.name for p in removed} == {"filled.partial-1a2b3c4d.tif",
                                         "spread.partial-00ff00ff.tif",
                                         "sample_2.partial-deadbeef.tif", ".copgen-work", MARKER}
    assert all(p.exists() for p in [*mine, *outputs])  # only leftovers and the marker went
