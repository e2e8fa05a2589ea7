"""Checkpoint folder -> package: layouts, EMA conversion, safe loading, options, CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch

from models.checkpoints import CheckpointError, load_file, load_strict, load_vae_weights
from models.configs import IMAGE_KEYS, MODALITIES, get_size, select_modalities
from models.denoiser import CopgenUViT
from models.export import export_checkpoint_dir
from models.export import main as export_main
from models.locate import LayoutError, choose_files
from models.manifest import verify_package
from models.onnx_export import ExportOptions, export_denoiser, merge_external_data
from tests.models.conftest import max_abs, ort_session
from tests.models.layouts import kit_checkpoint_dir

REPO = Path(__file__).resolve().parents[2]
SPECS = select_modalities(None)


@pytest.fixture(scope="module")
def kit_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kit's tiny weights in the official layout, DEM only as a training ``model-50.pt``."""
    root = tmp_path_factory.mktemp("export")
    ckpt = kit_checkpoint_dir(root / "ckpt", training={"DEM_DEM"})
    assert export_main(["--checkpoint-dir", str(ckpt), "--config", "tiny",
                        "--out", str(root / "pkg")]) == 0
    return root / "pkg"


def test_exported_package_reproduces_official_backbone(kit_package: Path,
                                                       cases: dict[str, Any]) -> None:
    m = verify_package(kit_package)
    assert m["config"] == "tiny" and m["architecture"]["parameters"] == 361_538
    assert m["weights"]["DEM_DEM"]["file"] == "vae/DEM_64x64_DEM_latent_8/model-50.pt"
    sess = ort_session(kit_package / "denoiser.onnx")
    order = m["network_order"]
    t = cases["backbone__t__p1"]
    feeds = {f"z_{k}": cases[f"backbone__z__{k}"] for k in order}
    feeds |= {f"t_{k}": t[:, j].copy() for j, k in enumerate(order)}
    for k, out in zip(order, sess.run(None, feeds), strict=True):
        assert max_abs(out, cases[f"backbone__eps__p1__{k}"]) <= 1e-5, k


@pytest.mark.parametrize("key", ["DEM_DEM", "S2L2A_B01_B09"])
def test_exported_tokenizers_reproduce_official(kit_package: Path, cases: dict[str, Any],
                                                key: str) -> None:
    """DEM came from a training file: this also proves the EMA weights were the ones taken."""
    enc = ort_session(kit_package / f"encoder_{key}.onnx")
    dec = ort_session(kit_package / f"decoder_{key}.onnx")
    moments = enc.run(None, {"image": cases[f"vae__x__{key}"]})[0]
    assert max_abs(moments, cases[f"vae__moments__{key}"]) <= 5e-5
    image = dec.run(None, {"latent": cases[f"vae__zdec__{key}"]})[0]
    assert max_abs(image, cases[f"vae__xdec__{key}"]) <= 5e-5


def test_ema_extraction_drops_online_and_loss_weights(tmp_path: Path) -> None:
    ckpt = kit_checkpoint_dir(tmp_path, training={"S2L2A_B01_B09"}, keys=["S2L2A_B01_B09"])
    path = ckpt / "vae" / "S2L2A_32x32_B1_9_latent_8" / "model-50.pt"
    state = load_vae_weights(path)
    assert all(k.split(".")[0] in {"encoder", "decoder", "quant_conv", "post_quant_conv"}
               for k in state)
    reference = load_vae_weights(REPO / "tests/fixtures/parity/vae_tiny/S2L2A_B01_B09.pth")
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[k], reference[k]) for k in state)


@pytest.mark.parametrize(
    ("nnet", "vae_root"),
    [("500000_nnet_ema.pth", "vae"), ("cop_gen_base/500000_nnet_ema.pth", "."),
     ("ckpts/300000.ckpt/nnet_ema.pth", "models/vae")],
)
def test_plausible_layouts_are_found(tmp_path: Path, nnet: str, vae_root: str) -> None:
    root = kit_checkpoint_dir(tmp_path, nnet_rel=nnet, vae_root=vae_root)
    listing = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    sel = choose_files(listing, SPECS)
    assert sel.denoiser == nnet
    assert set(sel.vaes) == set(IMAGE_KEYS)
    assert sel.vaes["DEM_DEM"].endswith("DEM_64x64_DEM_latent_8/model-50-ema.pth")


def test_layout_choice_prefers_ema_and_card_names() -> None:
    listing = ["README.md", "500000_nnet_ema.pth", "400000_nnet_ema.pth",
               "S1RTC_VV_VH/model-50.pt", "S1RTC_VV_VH/model-50-ema.pth", "DEM/model-50.pt"]
    sel = choose_files(listing, select_modalities(["S1RTC_vh_vv", "DEM_DEM"]))
    assert sel.denoiser == "500000_nnet_ema.pth"
    assert sel.vaes == {"DEM_DEM": "DEM/model-50.pt",
                        "S1RTC_vh_vv": "S1RTC_VV_VH/model-50-ema.pth"}
    assert sel.training == {"DEM_DEM"}


def test_missing_files_are_named(tmp_path: Path) -> None:
    root = kit_checkpoint_dir(tmp_path / "c", keys=["DEM_DEM"])
    with pytest.raises(LayoutError) as err:
        choose_files([p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()],
                     SPECS, where="ckpt")
    msg = str(err.value)
    assert "LULC_LULC VAE" in msg and "vae/DEM_64x64_DEM_latent_8/model-50-ema.pth" in msg
    assert "DEM_DEM VAE" not in msg
    proc = subprocess.run(
        [sys.executable, "-m", "models.export", "--checkpoint-dir", str(root), "--config",
         "tiny", "--out", str(tmp_path / "pkg")],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 2 and "LULC_LULC VAE" in proc.stderr
    assert not (tmp_path / "pkg").exists()


def test_wrong_config_fails_strict_load(tmp_path: Path) -> None:
    root = kit_checkpoint_dir(tmp_path / "c")
    model = CopgenUViT(get_size("tiny").backbone(SPECS))
    model_state = load_file(root / "500000_nnet_ema.pth")
    bigger = CopgenUViT(type(model.config)(embed_dim=32, depth=4, num_heads=4,
                                           modalities=model.config.modalities))
    with pytest.raises(CheckpointError, match="size mismatch"):
        load_strict(bigger, model_state, "nnet")
    renamed = {("module." + k): v for k, v in model_state.items()}
    with pytest.raises(CheckpointError, match="unexpected 114"):
        load_strict(model, renamed, "nnet")


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("unpickled arbitrary code",))


def test_arbitrary_objects_are_never_unpickled(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "500000_nnet_ema.pth"
    torch.save({"pos_embed": torch.zeros(1), "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_file(path)
    assert "unpickled" not in capsys.readouterr().out


def test_fp16_and_external_data_options(tmp_path: Path) -> None:
    model = CopgenUViT(get_size("tiny").backbone(select_modalities(
        ["DEM_DEM", "mean_timestamps"]))).eval()
    ref_state = {k: v.clone() for k, v in model.state_dict().items()}
    f32 = export_denoiser(model, tmp_path / "a" / "denoiser.onnx")
    f16 = export_denoiser(model, tmp_path / "b" / "denoiser.onnx", ExportOptions(fp16=True))
    ext = export_denoiser(model, tmp_path / "c" / "denoiser.onnx",
                          ExportOptions(external_data=True))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in ref_state.items())
    assert [p.name for p in ext] == ["denoiser.onnx", "denoiser.onnx.data"]
    assert ext[0].stat().st_size < 100_000 < ext[1].stat().st_size
    g16 = onnx.load(str(f16[0]))
    assert {i.data_type for i in g16.graph.initializer} == {onnx.TensorProto.FLOAT16}
    assert f16[0].stat().st_size < 0.6 * f32[0].stat().st_size
    rng = np.random.default_rng(0)
    feeds = {"z_DEM_DEM": rng.standard_normal((2, 8, 8, 8), dtype=np.float32),
             "z_mean_timestamps": rng.standard_normal((2, 1, 1, 3), dtype=np.float32),
             "t_DEM_DEM": np.array([999.0, 3.0], np.float32),
             "t_mean_timestamps": np.array([0.0, 500.0], np.float32)}
    ref = ort_session(f32[0]).run(None, feeds)
    for out, r in zip(ort_session(ext[0]).run(None, feeds), ref, strict=True):
        assert max_abs(out, r) == 0.0
    for out, r in zip(ort_session(f16[0]).run(None, feeds), ref, strict=True):
        assert out.dtype == np.float32 and 0 < max_abs(out, r) < 2e-2


def test_package_dir_guard(tmp_path: Path) -> None:
    occupied = tmp_path / "pkg"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    ckpt = kit_checkpoint_dir(tmp_path / "c")
    with pytest.raises(FileExistsError):
        export_checkpoint_dir(ckpt, "tiny", occupied)
    assert (occupied / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "pkg"]  # no staging left


def test_manifest_table_matches_reference() -> None:
    assert MODALITIES["S2L1C_B05_B06_B07_B11_B12_B8A"].bands == (
        "B05", "B06", "B07", "B8A", "B11", "B12")
    assert MODALITIES["DEM_DEM"].vae_folder == "DEM_64x64_DEM_latent_8"
    assert sum(s.num_tokens for s in SPECS) + len(SPECS) == 834


def test_spilled_tensor_files_are_merged_into_one(tmp_path: Path) -> None:
    """What the TorchScript exporter writes above 2 GB (one file per tensor) becomes one file."""
    model = CopgenUViT(get_size("tiny").backbone(select_modalities(["DEM_DEM"]))).eval()
    (inline,) = export_denoiser(model, tmp_path / "inline" / "denoiser.onnx")
    spilled = tmp_path / "spilled" / "denoiser.onnx"
    spilled.parent.mkdir()
    onnx.save_model(onnx.load(str(inline)), str(spilled), save_as_external_data=True,
                    all_tensors_to_one_file=False, size_threshold=0)
    assert len(list(spilled.parent.iterdir())) > 10
    merged = tmp_path / "merged" / "denoiser.onnx"
    merged.parent.mkdir()
    merge_external_data(spilled, merged, "denoiser.onnx.data")
    assert sorted(p.name for p in merged.parent.iterdir()) == ["denoiser.onnx",
                                                               "denoiser.onnx.data"]
    feeds = {"z_DEM_DEM": np.ones((1, 8, 8, 8), np.float32), "t_DEM_DEM": np.ones(1, np.float32)}
    assert max_abs(ort_session(merged).run(None, feeds)[0],
                   ort_session(inline).run(None, feeds)[0]) == 0.0


def test_dynamo_exporter_gives_the_same_graph_outputs(tmp_path: Path) -> None:
    model = CopgenUViT(get_size("tiny").backbone(select_modalities(
        ["S2L2A_B01_B09", "mean_timestamps"]))).eval()
    (ts,) = export_denoiser(model, tmp_path / "ts" / "denoiser.onnx")
    (dy,) = export_denoiser(model, tmp_path / "dy" / "denoiser.onnx",
                            ExportOptions(exporter="dynamo"))
    rng = np.random.default_rng(1)
    feeds = {"z_S2L2A_B01_B09": rng.standard_normal((3, 8, 4, 4), dtype=np.float32),
             "z_mean_timestamps": rng.standard_normal((3, 1, 1, 3), dtype=np.float32),
             "t_S2L2A_B01_B09": np.array([0.0, 500.5, 1000.0], np.float32),
             "t_mean_timestamps": np.array([20.98, 0.0, 999.0], np.float32)}
    for a, b in zip(ort_session(dy).run(None, feeds), ort_session(ts).run(None, feeds),
                    strict=True):
        assert max_abs(a, b) <= 1e-5
