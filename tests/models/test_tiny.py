"""The tiny random-weight package: real interface and shapes, tame values, deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.configs import ALL_KEYS, IMAGE_KEYS, MODALITIES
from models.manifest import read_manifest, verify_package
from models.tiny import build_tiny_package
from tests.models.conftest import ort_session

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_package(tmp_path_factory.mktemp("tiny") / "pkg", seed=0)


def test_manifest_describes_the_real_modalities(tiny_pkg: Path) -> None:
    m = verify_package(tiny_pkg)
    assert m["network_order"] == ALL_KEYS
    assert m["config"] == "tiny" and m["precision"] == "fp32"
    assert m["architecture"]["embed_dim"] == 64 and m["architecture"]["parameters"] == 361_538
    s1 = m["modalities"]["S1RTC_vh_vv"]
    assert s1["bands"] == ["vv", "vh"] and s1["image_shape"] == [2, 192, 192]
    assert s1["latent_shape"] == [8, 24, 24] and s1["scale_factor"] == 0.633804
    assert s1["normalisation"] == {"kind": "log_db_minmax", "min_db": -55.787186,
                                   "max_db": 40.2258, "min_positive": 2.6380407689430285e-06}
    assert m["modalities"]["S2L2A_B02_B03_B04_B08"]["bands"] == ["B04", "B03", "B02", "B08"]
    assert m["modalities"]["S2L1C_B05_B06_B07_B11_B12_B8A"]["pixel_size_m"] == 20.0
    assert m["modalities"]["LULC_LULC"]["normalisation"]["codes"] == [0, 1, 2, 4, 5, 7, 8, 9,
                                                                     10, 11]
    assert m["modalities"]["mean_timestamps"]["kind"] == "scalar"
    expected_files = {"denoiser.onnx"} | {f"{p}_{k}.onnx" for k in IMAGE_KEYS
                                          for p in ("encoder", "decoder")}
    assert set(m["files"]) == expected_files


def test_denoiser_runs_with_real_shapes(tiny_pkg: Path) -> None:
    m = read_manifest(tiny_pkg)
    sess = ort_session(tiny_pkg / m["denoiser"])
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        feeds: dict[str, Any] = {}
        for k in m["network_order"]:
            feeds[f"z_{k}"] = rng.standard_normal((batch, *m["modalities"][k]["latent_shape"]),
                                                  dtype=np.float32)
            feeds[f"t_{k}"] = rng.uniform(0, 1000, batch).astype(np.float32)
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds),
                        strict=True))
        for k in m["network_order"]:
            eps = outs[f"eps_{k}"]
            assert eps.shape == feeds[f"z_{k}"].shape and eps.dtype == np.float32
            assert np.isfinite(eps).all() and 0.05 < eps.std() < 5 and np.abs(eps).max() < 20


@pytest.mark.parametrize("key", ["DEM_DEM", "S2L2A_B02_B03_B04_B08", "S2L1C_B01_B09_B10",
                                 "S2L2A_B05_B06_B07_B11_B12_B8A"])
def test_tokenizers_run_with_native_sizes(tiny_pkg: Path, key: str) -> None:
    entry = read_manifest(tiny_pkg)["modalities"][key]
    enc, dec = ort_session(tiny_pkg / entry["encoder"]), ort_session(tiny_pkg / entry["decoder"])
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, *entry["image_shape"])).astype(np.float32)
    moments = enc.run(None, {"image": x})[0]
    zc, zh, zw = entry["latent_shape"]
    assert moments.shape == (2, 2 * zc, zh, zw)
    assert np.isfinite(moments).all() and np.abs(moments).max() < 10
    # sampler outputs of a random denoiser reach |z| ~ 80: the decoder must stay tame there too
    z = 80 * rng.standard_normal((2, zc, zh, zw)).astype(np.float32)
    image = dec.run(None, {"latent": z})[0]
    assert image.shape == (2, *entry["image_shape"])
    assert np.isfinite(image).all() and np.abs(image).max() < 10 and image.std() > 0.01


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path: Path) -> None:
    keys = ["DEM_DEM", "mean_timestamps"]
    a = read_manifest(build_tiny_package(tmp_path / "a", keys, seed=3))
    b = read_manifest(build_tiny_package(tmp_path / "b", keys, seed=3))
    c = read_manifest(build_tiny_package(tmp_path / "c", keys, seed=4))
    assert a["files"] == b["files"]
    for name in a["files"]:
        assert a["files"][name]["sha256"] != c["files"][name]["sha256"], name


def test_cli_subset_is_in_network_order(tmp_path: Path) -> None:
    out = tmp_path / "sub"
    proc = subprocess.run(
        [sys.executable, "-m", "models.tiny", "--out", str(out), "--modalities",
         "S2L2A_B02_B03_B04_B08", "3d_cartesian_lat_lon,DEM_DEM"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out.resolve())
    m = json.loads((out / "manifest.json").read_text())
    assert m["network_order"] == ["3d_cartesian_lat_lon", "DEM_DEM", "S2L2A_B02_B03_B04_B08"]
    sess = ort_session(out / "denoiser.onnx")
    assert [i.name for i in sess.get_inputs()] == [
        "z_3d_cartesian_lat_lon", "z_DEM_DEM", "z_S2L2A_B02_B03_B04_B08",
        "t_3d_cartesian_lat_lon", "t_DEM_DEM", "t_S2L2A_B02_B03_B04_B08"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", "denoiser.onnx", "encoder_DEM_DEM.onnx", "decoder_DEM_DEM.onnx",
         "encoder_S2L2A_B02_B03_B04_B08.onnx", "decoder_S2L2A_B02_B03_B04_B08.onnx"])
    assert MODALITIES["DEM_DEM"].scale_factor == m["modalities"]["DEM_DEM"]["scale_factor"]


def test_unknown_modality_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown modality"):
        build_tiny_package(tmp_path / "x", ["S3_OLCI"])
    assert not (tmp_path / "x").exists()
