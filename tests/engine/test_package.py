"""Manifest validation and file verification: every error names the problem."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from copgen_plugin.engine import verify
from copgen_plugin.engine.generate import CopgenEngine
from copgen_plugin.engine.package import load_package, parse_manifest
from copgen_plugin.engine.runtime import RuntimeOptions
from copgen_plugin.errors import (
    ChangedFileError,
    ManifestError,
    MissingFileError,
    ModalityError,
    ModelLoadError,
    PackageError,
)
from tests.engine.helpers import official_manifest


@pytest.fixture
def package_copy(tiny_package: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "pkg"
    shutil.copytree(tiny_package, dst)
    return dst


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache.json"


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text())


def _write(path: Path, manifest: dict[str, Any]) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_tiny_package_parses(tiny_package, cache):
    pkg = load_package(tiny_package, cache_path=cache)
    assert pkg.network_order[0] == "3d_cartesian_lat_lon"
    s2 = pkg.spec("S2L2A_B02_B03_B04_B08")
    assert s2.bands == ("B04", "B03", "B02", "B08") and s2.downsampling == 8
    assert pkg.keys_of_family("S2L2A") == ["S2L2A_B01_B09", "S2L2A_B02_B03_B04_B08"]
    assert pkg.solver.steps == 50


def test_unknown_modality_lists_the_known_ones(table):
    with pytest.raises(ModalityError, match=r"S2L3A_B02.*DEM_DEM, LULC_LULC"):
        table.spec("S2L3A_B02")


def test_missing_file_is_named(package_copy, cache):
    (package_copy / "decoder_DEM_DEM.onnx").unlink()
    with pytest.raises(MissingFileError, match=r"decoder_DEM_DEM\.onnx"):
        load_package(package_copy, cache_path=cache)


def test_truncated_file_is_caught_by_its_size(package_copy, cache):
    path = package_copy / "denoiser.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ChangedFileError, match=r"denoiser\.onnx has 1000 bytes"):
        load_package(package_copy, verify="size", cache_path=cache)


def test_changed_file_of_the_same_size_is_caught_even_after_caching(package_copy, cache,
                                                                    monkeypatch):
    hashed: list[str] = []
    real = verify.sha256_of
    monkeypatch.setattr(verify, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    load_package(package_copy, cache_path=cache)
    first = len(hashed)
    assert first == len(_manifest(package_copy)["files"])
    load_package(package_copy, cache_path=cache)
    assert len(hashed) == first  # cached: nothing hashed again
    path = package_copy / "encoder_DEM_DEM.onnx"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the weights, same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(ChangedFileError, match=r"encoder_DEM_DEM\.onnx has SHA-256"):
        load_package(package_copy, cache_path=cache)
    assert hashed[first:] == ["encoder_DEM_DEM.onnx"]  # only the touched file was re-hashed
    with pytest.raises(ChangedFileError):
        load_package(package_copy, verify="full", cache_path=cache)


def test_manifest_shape_that_disagrees_with_the_graph_is_a_clear_error(package_copy, cache):
    manifest = _manifest(package_copy)
    manifest["modalities"]["DEM_DEM"]["latent_shape"] = [8, 16, 16]
    manifest["modalities"]["DEM_DEM"]["image_shape"] = [1, 128, 128]
    _write(package_copy, manifest)
    engine = CopgenEngine(load_package(package_copy, cache_path=cache), RuntimeOptions("cpu"))
    with pytest.raises(ModelLoadError, match=r"z_DEM_DEM.*per-sample shape \[8, 8, 8\]"):
        engine.denoiser()


def test_not_a_package(tmp_path, cache):
    with pytest.raises(ManifestError, match=r"no manifest\.json"):
        load_package(tmp_path, cache_path=cache)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not readable JSON"):
        load_package(tmp_path, cache_path=cache)


def _break(change) -> dict[str, Any]:
    manifest = official_manifest()
    change(manifest)
    return manifest


BROKEN = [
    (lambda m: m.update(format="onnx"), "'format' must be"),
    (lambda m: m.update(format_version=2), "format_version 2"),
    (lambda m: m.pop("network_order"), "no field 'network_order'"),
    (lambda m: m["network_order"].append("S3_OLCI"), "not described \\['S3_OLCI'\\]"),
    (lambda m: m["modalities"]["DEM_DEM"].update(family="DTM"), "unknown family 'DTM'"),
    (lambda m: m["modalities"]["S1RTC_vh_vv"].update(bands=["vv"]),
     "1 bands \\['vv'\\] but image_shape has 2"),
    (lambda m: m["modalities"]["S1RTC_vh_vv"]["normalisation"].pop("min_db"),
     "S1RTC_vh_vv' normalisation has no field 'min_db'"),
    (lambda m: m["modalities"]["DEM_DEM"]["normalisation"].update(kind="reflectance"),
     "'reflectance' does not apply to family 'DEM'"),
    (lambda m: m["modalities"]["DEM_DEM"].update(latent_shape=[8, 7, 7]),
     "not an integer multiple"),
    (lambda m: m["modalities"]["LULC_LULC"].update(image_shape=[9, 192, 192]),
     "one-hot needs"),
    (lambda m: m["modalities"]["DEM_DEM"].update(scale_factor=0), "positive scale_factor"),
    (lambda m: m["files"].pop("decoder_DEM_DEM.onnx"), "decoder 'decoder_DEM_DEM.onnx' is not"),
    (lambda m: m["files"]["denoiser.onnx"].update(sha256="xyz"), "invalid sha256"),
    (lambda m: m["files"].update({"../x.onnx": {"sha256": "0" * 64, "bytes": 1}}),
     "must be relative"),
    (lambda m: m["solver"].update(order=2), "solver order=2 is not supported"),
    (lambda m: m["schedule"].update(kind="cosine"), "unsupported noise schedule"),
    (lambda m: m["modalities"]["mean_timestamps"].update(latent_shape=[1, 1, 2]),
     "scalar must have"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_manifest_errors_name_the_problem(change, message):
    with pytest.raises(ManifestError, match=message) as info:
        parse_manifest(Path("/nowhere"), _break(change))
    assert isinstance(info.value, PackageError)
