"""manifest.json: round trip, the documented fields, and checksums that catch changed files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.configs import MODALITIES
from models.manifest import (
    MANIFEST,
    ManifestInfo,
    PackageError,
    build_manifest,
    read_manifest,
    sha256_of,
    verify_package,
    write_manifest,
)
from models.tiny import build_tiny_package

KEYS = ["DEM_DEM", "3d_cartesian_lat_lon", "S2L2A_B01_B09"]


@pytest.fixture(scope="module")
def small_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_package(tmp_path_factory.mktemp("m") / "pkg", KEYS, seed=1)


@pytest.fixture
def pkg(small_pkg: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(small_pkg, tmp_path / "copy"))


def test_round_trip(pkg: Path) -> None:
    written = json.loads((pkg / MANIFEST).read_text())
    info = ManifestInfo(model_id=written["model_id"], model_version=written["model_version"],
                       title=written["title"], licence=written["licence"],
                       source=written["source"], config="tiny",
                       architecture=written["architecture"], variants=written["variants"])
    specs = [MODALITIES[k] for k in KEYS]
    rebuilt = build_manifest(info, specs, pkg)
    assert rebuilt == written == read_manifest(pkg)
    write_manifest(pkg, rebuilt)
    assert read_manifest(pkg) == written


def test_documented_fields(pkg: Path) -> None:
    m = read_manifest(pkg)
    assert m["format"] == "copgen-model-package" and m["format_version"] == 1
    assert m["network_order"] == ["3d_cartesian_lat_lon", "DEM_DEM", "S2L2A_B01_B09"]
    assert m["schedule"] == {"kind": "discrete_scaled_linear", "beta_start": 0.00085,
                             "beta_end": 0.012, "num_train_timesteps": 1000}
    assert m["solver"]["steps"] == 50 and m["solver"]["t_end"] == 0.001
    dem = m["modalities"]["DEM_DEM"]
    assert dem == {
        "kind": "image", "family": "DEM", "bands": ["DEM"], "image_shape": [1, 64, 64],
        "pixel_size_m": 30.0, "latent_shape": [8, 8, 8], "scale_factor": 0.404247,
        "normalisation": {"kind": "log1p_minmax", "min_db": 6e-06, "max_db": 9.088,
                          "min_positive": 5.899129519093549e-06},
        "encoder": "encoder_DEM_DEM.onnx", "decoder": "decoder_DEM_DEM.onnx",
    }
    assert m["modalities"]["S2L2A_B01_B09"]["normalisation"] == {"kind": "reflectance",
                                                                 "scale": 10000.0}
    for name, entry in m["files"].items():
        assert entry == {"sha256": sha256_of(pkg / name), "bytes": (pkg / name).stat().st_size}
    assert MANIFEST not in m["files"]


def test_changed_file_is_caught(pkg: Path) -> None:
    target = pkg / "decoder_DEM_DEM.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit flipped in the weights
    target.write_bytes(bytes(data))
    verify_package(pkg, check_hashes=False)  # sizes alone cannot see it
    changed = r"decoder_DEM_DEM\.onnx has SHA-256 [0-9a-f]{64}, the manifest says"
    with pytest.raises(PackageError, match=changed):
        verify_package(pkg)


def test_missing_and_resized_files_are_caught(pkg: Path) -> None:
    (pkg / "encoder_S2L2A_B01_B09.onnx").unlink()
    with (pkg / "denoiser.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PackageError) as err:
        verify_package(pkg)
    assert "missing file encoder_S2L2A_B01_B09.onnx" in str(err.value)
    assert "denoiser.onnx has " in str(err.value) and "bytes, the manifest says" in str(err.value)


def test_unlisted_required_file_is_caught(pkg: Path) -> None:
    m = read_manifest(pkg)
    del m["files"]["encoder_DEM_DEM.onnx"]
    write_manifest(pkg, m)
    with pytest.raises(PackageError, match=r"encoder_DEM_DEM\.onnx: required but not listed"):
        verify_package(pkg)


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"no manifest\.json"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text('{"format": "something-else"}')
    with pytest.raises(PackageError, match="not a copgen-model-package"):
        read_manifest(tmp_path)
