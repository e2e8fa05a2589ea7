"""Small real scenes (GeoTIFFs) for the batch tests, the serial reference and checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from copgen_plugin.fill import run_fill
from copgen_plugin.fill.request import FillRequest
from copgen_plugin.scale.marker import MARKER
from copgen_plugin.scale.scenes import Scene, batch_request, scene_outputs
from tests.fill.helpers import smooth_s2, write_tif

RGBN = ["B04", "B03", "B02", "B08"]
#: what a finished scene folder holds (n = 2 samples)
OUTPUTS = ["filled.tif", "spread.tif", "samples/sample_1.tif", "samples/sample_2.tif"]


def scene_raster(path: Path, shape: tuple[int, int], *, seed: int, margin: int = 12) -> Path:
    """A 4-band S2 L2A layer (int16, nodata -9999) with a gap inside ``margin``."""
    data = smooth_s2(shape, 4, seed=seed)
    gap = np.zeros(shape, bool)
    gap[margin:-margin, margin + seed % 7:-margin] = True
    data[:, gap] = -9999
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tif(path, data, nodata=-9999, descriptions=RGBN)


def base_request(package: Path, **extra: object) -> FillRequest:
    """The batch's shared options: 2 samples, 2 steps, ORT at 1 thread, on the CPU, raw
    samples (the blending costs most of a tiny model's time; the equivalence does not depend
    on it: footprints see the same held pixels either way, and bench_scale runs it)."""
    options: dict[str, object] = {"threads": 1, "device": "cpu", "n_samples": 2, "steps": 2,
                                  "seed": 7, "date": dt.date(2021, 6, 1), "harmonise": False,
                                  **extra}
    return batch_request(str(package), **options)  # type: ignore[arg-type]


def serial(base: FillRequest, scenes: Sequence[Scene], out: Path) -> Path:
    """The reference: one plain ``run_fill`` per scene, one after the other."""
    for s in scenes:
        req = dataclasses.replace(base, target=dataclasses.replace(base.target, path=s.input),
                                  outputs=scene_outputs(out, s.name))
        req.outputs.filled.parent.mkdir(parents=True, exist_ok=True)
        run_fill(req)
    return out


def assert_same_outputs(out: Path, reference: Path, names: Sequence[str]) -> None:
    """Every output file of every scene is byte for byte the reference's; nothing partial
    is left; exactly one completion marker per scene, naming the outputs' checksums."""
    for name in names:
        for rel in OUTPUTS:
            assert (out / name / rel).read_bytes() == (reference / name / rel).read_bytes(), \
                f"{name}/{rel} differs from the serial run"
        leftovers = [p.name for p in (out / name).rglob("*")
                     if ".partial-" in p.name or ".tmp-" in p.name or p.name == ".copgen-work"]
        assert leftovers == [], leftovers
        markers = list((out / name).rglob(".copgen-complete*"))
        assert [m.name for m in markers] == [MARKER]
        assert sorted(json.loads(markers[0].read_text())["outputs"]) == sorted(OUTPUTS)
