"""The scenes of a batch: read from a folder, a glob or a JSON/CSV table, then one
:class:`FillRequest` each, built from the batch's shared options.

A scene is a name plus the per-scene options of the ``gapfill`` CLI without dashes: ``input``,
the condition layers (``dem``, ``s1``, ``lulc``, ``s2l2a``, ``s2l1c``, ``cloud_mask``),
``mask``, ``date``, ``bands``, ``nodata``. Everything else (model, samples, steps, seed,
device, ...) is the batch's. Each scene's outputs go to ``<out>/<name>/``: ``filled.tif``,
``spread.tif`` and ``samples/sample_<k>.tif``.

* a folder: one scene per subfolder, named after it; its layers are recognised by file stem
  (``input`` or the target modality's name, e.g. ``s2l2a.tif``, is the input; ``dem``, ``s1``
  or ``s1rtc``, ``lulc``, ``s2l1c``, ``s2l2a``, ``cloud_mask``, ``mask``); an optional
  ``scene.json`` object in the subfolder adds options (``date``, ``bands``, ``nodata``, ...);
* a glob (``data/*/s2.tif``): each match is the input of one scene, named after its folder,
  its siblings recognised as in a folder;
* a ``.json`` file (a list of objects) or a ``.csv`` file (one row per scene, a header of
  option names); relative paths are relative to the table's folder.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fill.options import CONDITIONS, LayerModality, S1ScaleChoice, parse_date
from ..fill.request import FillOutputs, FillRequest, LayerInput

#: per-scene options that name a layer file
PATH_KEYS = ("input", "mask", *(slot.option for slot in CONDITIONS))
#: per-scene options that are values
VALUE_KEYS = ("date", "bands", "nodata")
SCENE_KEYS = ("name", *PATH_KEYS, *VALUE_KEYS)
#: file stems recognised in a scene folder besides the option names themselves
STEM_ALIASES = {"s1rtc": "s1", "target": "input"}
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Scene:
    """One scene of a batch: its name (its output folder) and its own options."""

    name: str
    options: Mapping[str, Any]

    @property
    def input(self) -> Path:
        return Path(self.options["input"])


def read_scenes(source: str | Path, *, modality: str = "S2L2A") -> list[Scene]:
    """The scenes ``source`` lists (a folder, a glob, a .json or .csv table), checked: every
    scene has an input, names are distinct folder names, keys are known."""
    text = str(source)
    path = Path(text).expanduser()
    scenes: list[Scene]
    if path.is_dir():
        found = [_folder_scene(sub, sub.name, modality)
                 for sub in sorted(p for p in path.iterdir() if p.is_dir())]
        scenes = [s for s in found if s is not None]
    elif path.is_file() and path.suffix.lower() == ".json":
        scenes = _table(_load_json(path), path.parent)
    elif path.is_file() and path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}
                    for row in csv.DictReader(f)]
        scenes = _table(rows, path.parent)
    elif glob.has_magic(text):
        matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
        scenes = [_glob_scene(m, modality) for m in matches]
    else:
        raise InputError(f"scenes: {text} is not a folder, a .json or .csv table, nor a glob "
                         "that matches files")
    if not scenes:
        raise InputError(f"scenes: {text} lists no scene (a folder needs one subfolder per "
                         "scene, holding input.tif or a file named after the modality)")
    names = [s.name for s in scenes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"scenes: names {dup} are used twice; each scene needs its own name "
                         "(its output folder)")
    return scenes


def _load_json(path: Path) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"scenes: cannot read {path}: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InputError(f"scenes: {path} must hold a JSON list of objects, one per scene")
    return data


def _table(rows: Sequence[Mapping[str, Any]], base: Path) -> list[Scene]:
    out = []
    for k, row in enumerate(rows, start=1):
        if "input" not in row:
            raise InputError(f"scenes: entry {k} has no 'input'")
        name = str(row.get("name") or Path(str(row["input"])).stem)
        out.append(_scene(name, row, base, f"entry {k}"))
    return out


def _layers_by_stem(folder: Path, modality: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    target_stem = modality.lower()
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.suffix.lower() not in RASTER_SUFFIXES:
            continue
        stem = p.stem.lower()
        key = "input" if stem == target_stem else STEM_ALIASES.get(stem, stem)
        if key in PATH_KEYS and key not in found:
            found[key] = p
    return found


def _folder_scene(folder: Path, name: str, modality: str) -> Scene | None:
    layers: dict[str, Any] = dict(_layers_by_stem(folder, modality))
    extra = folder / "scene.json"
    if extra.is_file():
        try:
            options = json.loads(extra.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"scenes: cannot read {extra}: {exc}") from None
        if not isinstance(options, dict):
            raise InputError(f"scenes: {extra} must hold one JSON object of options")
        layers.update({k: v for k, v in options.items() if k in SCENE_KEYS})
    if "input" not in layers:
        return None  # not a scene folder (no input layer)
    return _scene(str(layers.pop("name", name)), layers, folder, str(folder))


def _glob_scene(match: Path, modality: str) -> Scene:
    layers: dict[str, Any] = {k: v for k, v in _layers_by_stem(match.parent, modality).items()
                              if k != "input"}
    layers["input"] = match
    return _scene(match.parent.name, layers, match.parent, str(match))


def _scene(name: str, row: Mapping[str, Any], base: Path, where: str) -> Scene:
    unknown = sorted(set(row) - set(SCENE_KEYS))
    if unknown:
        raise InputError(f"scenes: {where}: unknown key(s) {unknown}; per-scene keys are "
                         f"{', '.join(SCENE_KEYS)} (other options apply to the whole batch)")
    if not _NAME.match(name) or name in (".", ".."):
        raise InputError(f"scenes: {where}: name {name!r} is not a plain folder name")
    options: dict[str, Any] = {}
    for key, value in row.items():
        if key == "name" or value is None or value == "":
            continue
        if key in PATH_KEYS:
            p = Path(str(value)).expanduser()
            options[key] = (p if p.is_absolute() else base / p).resolve()
        elif key == "date":
            try:
                options[key] = parse_date(str(value))
            except InputError as exc:
                raise InputError(f"scenes: {where}: date: {exc}") from None
        elif key == "nodata":
            try:
                options[key] = float(value)
            except (TypeError, ValueError):
                raise InputError(f"scenes: {where}: nodata {value!r} is not a number") from None
        else:
            options[key] = str(value)
    return Scene(name=name, options=options)


def scene_outputs(out_dir: Path, name: str) -> FillOutputs:
    """Where a scene's outputs go: ``<out>/<name>/filled.tif``, ``spread.tif``, ``samples/``."""
    folder = out_dir / name
    return FillOutputs(filled=folder / "filled.tif", spread=folder / "spread.tif",
                       samples_dir=folder / "samples")


def batch_request(model: str, *, modality: LayerModality = "S2L2A",
                  s1_scale: S1ScaleChoice = "auto",
                  code_remap: Mapping[int, int] | None = None,
                  conditions: Sequence[LayerInput] = (), **options: Any) -> FillRequest:
    """The options a batch shares, as the request each scene's is made from: the target's
    modality, S1 scale and code remap, regional conditions, and ``FillRequest``'s other
    fields (``n_samples``, ``steps``, ``seed``, ``device``, ...)."""
    return FillRequest(mode="gapfill", target=LayerInput(Path("scene"), modality,
                                                         s1_scale=s1_scale,
                                                         code_remap=code_remap),
                       outputs=scene_outputs(Path("batch"), "scene"), model=str(model),
                       conditions=tuple(conditions), **options)


def scene_request(base: FillRequest, scene: Scene, out_dir: Path) -> FillRequest:
    """The batch's shared request with this scene's layers, date and outputs.

    ``base.target`` gives the modality, S1 scale and land-cover code remap of every scene;
    ``base.conditions`` serve every scene that has no layer of their modality (e.g. one DEM
    for a whole region); ``base.outputs`` is replaced."""
    o = scene.options
    remap = base.target.code_remap

    def layer(path: Path, family: LayerModality, **extra: Any) -> LayerInput:
        return LayerInput(path=path, modality=family, s1_scale=base.target.s1_scale,
                          code_remap=remap if family == "LULC" else None, **extra)

    target = dataclasses.replace(base.target, path=scene.input,
                                 bands=o.get("bands", base.target.bands),
                                 nodata=o.get("nodata", base.target.nodata))
    same = [slot.option for slot in CONDITIONS
            if slot.option in o and slot.family == target.modality]
    if same:
        raise InputError(f"scene {scene.name}: '{same[0]}' is the target's own modality "
                         f"({target.modality}); name it 'input'")
    own = tuple(layer(o[slot.option], slot.family) for slot in CONDITIONS
                if slot.option in o)
    given = {c.modality for c in own}
    conditions = (*(c for c in base.conditions if c.modality not in given), *own)
    return dataclasses.replace(
        base, target=target, conditions=conditions, mask=o.get("mask"),
        date=o.get("date", base.date), outputs=scene_outputs(out_dir, scene.name))
