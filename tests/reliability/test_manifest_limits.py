"""Case 9 of issue 13: a package is untrusted input; every size its manifest declares is
bounded before anything is allocated from it, with an error that says both numbers."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.engine.helpers import official_manifest
from tests.reliability.helpers import out_folder
from tests.reliability.run_b import cli, one_error_line, outputs, s2_layer
from tests.reliability.snapshot_b import snapshot

S2 = "S2L2A_B02_B03_B04_B08"


def _files(m: dict[str, Any]) -> None:
    m["files"].update({f"extra_{i}.bin": {"sha256": "0" * 64, "bytes": 1} for i in range(300)})


def _modalities(m: dict[str, Any]) -> None:
    extra = {f"S2L2A_copy_{i}": m["modalities"][S2] for i in range(40)}
    m["modalities"].update(extra)
    m["network_order"] += list(extra)


CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("footprint", lambda m: m.update(footprint_m=1_920_000),
     r"manifest declares a 64,000-pixel footprint for modality 'DEM_DEM' \(1\.92e\+06 m at "
     r"30 m\); the limit is 1,024"),
    ("image", lambda m: m["modalities"][S2].update(image_shape=[4, 192000, 192000]),
     rf"manifest declares a 192,000-pixel image side for modality '{S2}' \(image_shape "
     r"\[4, 192000, 192000\]\); the limit is 1,024"),
    ("latent", lambda m: m["modalities"][S2].update(latent_shape=[8, 50000, 50000]),
     rf"manifest declares a 50,000-pixel latent side for modality '{S2}'.*the limit is 256"),
    ("files", _files, r"manifest declares 321 files; the limit is 256"),
    ("modalities", _modalities, r"manifest declares 52 modalities; the limit is 32"),
    ("string", lambda m: m.update(model_id="x" * 100_000),
     r"manifest declares a 100,000-character model_id; the limit is 4,096"),
    ("schedule", lambda m: m["schedule"].update(num_train_timesteps=10**10),
     r"manifest declares a 10,000,000,000-step noise schedule; the limit is 10,000"),
    ("steps", lambda m: m["solver"].update(steps=10**7),
     r"manifest declares 10,000,000 solver steps; the limit is 1,000"),
    ("manifest_size", lambda m: m.update(padding=" " * 5_000_000),
     r"manifest declares a 5,00\d,\d{3}-byte manifest\.json; the limit is 4,194,304"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_oversized_manifests_are_refused_before_any_allocation(
        tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str) -> None:
    manifest = official_manifest()
    change(manifest)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    target = s2_layer(tmp_path / "in")
    out = out_folder(tmp_path / "out")
    before = snapshot(tmp_path / "in", pkg)
    proc = cli("gapfill", target, "--model", pkg, *outputs(out), "--quiet")
    line = one_error_line(proc)
    assert re.search(message, line), line
    assert "not a COP-GEN package (or a hostile one), nothing was allocated" in line
    assert "MemoryError" not in proc.stderr
    assert list(out.iterdir()) == []
    assert snapshot(tmp_path / "in", pkg) == before


def test_a_real_package_declaring_a_huge_footprint_is_refused(tmp_path: Path,
                                                              ten_m_package: Path) -> None:
    """The issue's case on a complete package (every file present, the shapes consistent): a
    1,920 km footprint, 192,000 px a side at 10 m, is refused by the parser before anything
    is allocated (before: a 275 GiB allocation attempt and a MemoryError traceback)."""
    pkg = shutil.copytree(ten_m_package, tmp_path / "pkg")
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["footprint_m"] = 1_920_000
    for spec in manifest["modalities"].values():
        if "pixel_size_m" in spec:  # image and latent sides that agree with the footprint
            side = round(1_920_000 / spec["pixel_size_m"])
            ratio = spec["image_shape"][1] // spec["latent_shape"][1]
            spec["image_shape"][1:] = [side, side]
            spec["latent_shape"][1:] = [side // ratio, side // ratio]
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    target = s2_layer(tmp_path / "in")
    out = out_folder(tmp_path / "out")
    before = snapshot(tmp_path / "in", pkg)
    proc = cli("gapfill", target, "--model", pkg, *outputs(out), "--samples", 2, "--steps", 2,
               "--device", "cpu", "--date", "2021-06-01", "--quiet")
    assert "MemoryError" not in proc.stderr, proc.stderr[-3000:]
    line = one_error_line(proc)
    assert re.search(r"manifest declares a 192,000-pixel (footprint|image side) for modality "
                     r"'S2L2A_B02_B03_B04_B08'.*the limit is 1,024", line), line
    assert "nothing was allocated" in line
    assert list(out.iterdir()) == []
    assert snapshot(tmp_path / "in", pkg) == before
