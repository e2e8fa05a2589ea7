"""Checkpoints + template -> package: parity with the torch export, verification, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from copgen_plugin.engine.package import load_package
from copgen_plugin.engine.verify import sha256_of
from copgen_plugin.errors import Cancelled, CheckpointError, InstallError
from copgen_plugin.install.convert import install_from_checkpoints, required_vaes
from models.export import main as export_main
from models.locate import NNET_FILE
from models.templates import max_output_diff
from tests.install.conftest import KEYS, VAE_FOLDERS, vae_files, write_official_layout


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_required_vaes_names_the_template_folders(tiny_template: Path) -> None:
    assert required_vaes(tiny_template) == sorted(VAE_FOLDERS.values())


def test_installed_package_equals_the_torch_export(tiny_template: Path, checkpoints: Path,
                                                   tmp_path: Path) -> None:
    exported = tmp_path / "exported"
    assert export_main(["--checkpoint-dir", str(checkpoints), "--config", "tiny", "--out",
                        str(exported), "--modalities", *KEYS]) == 0
    steps: list[tuple[float, str]] = []
    backbone = checkpoints / NNET_FILE
    installed = install_from_checkpoints(
        tiny_template, backbone, vae_files(checkpoints), tmp_path / "installed",
        sources={str(backbone): "https://example.org/copgen-base@abc123"},
        progress=lambda f, m: steps.append((f, m)))
    package = load_package(installed, verify="full", cache_path=tmp_path / "cache.json")
    assert package.network_order == tuple(sorted(KEYS))
    graphs = sorted(p.name for p in exported.glob("*.onnx"))
    assert graphs == sorted(p.name for p in installed.glob("*.onnx"))
    for name in graphs:
        assert max_output_diff(exported / name, installed / name) <= 1e-6, name
    manifest = json.loads((installed / "manifest.json").read_text())
    reference = json.loads((exported / "manifest.json").read_text())
    for field in ("modalities", "network_order", "schedule", "solver", "architecture",
                  "model_id", "config", "precision", "footprint_m"):
        assert manifest[field] == reference[field], field
    weights = manifest["weights"]
    assert set(weights) == set(reference["weights"])  # roles: denoiser + image keys
    assert weights["denoiser"]["sha256"] == sha256_of(backbone)
    assert weights["denoiser"]["source"] == "https://example.org/copgen-base@abc123"
    for key, folder in VAE_FOLDERS.items():
        assert weights[key]["sha256"] == sha256_of(vae_files(checkpoints)[folder])
        assert weights[key]["sha256"] == reference["weights"][key]["sha256"]
    assert set(manifest["files"]) == {p.name for p in installed.iterdir()} - {"manifest.json"}
    assert steps[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in steps)
    assert _leftovers(tmp_path) == []


def test_bfloat16_and_training_checkpoints_give_the_same_package(
        tiny_template: Path, tmp_path: Path) -> None:
    """bf16 storage is widened exactly; a VAE training file's EMA weights are extracted."""
    root = write_official_layout(tmp_path / "bf16", seed=3, dtype=torch.bfloat16)
    vaes = vae_files(root)
    folder = sorted(vaes)[0]
    sd = torch.load(vaes[folder], weights_only=True)
    training = {"step": 50, "ema": {"step": torch.tensor(5),
                                    **{f"ema_model.{k}": v for k, v in sd.items()},
                                    "ema_model.loss.logvar": torch.zeros(())},
                "model": {k: torch.zeros_like(v) for k, v in sd.items()}}
    vaes[folder] = root / "model-50.pt"
    torch.save(training, vaes[folder])
    out = install_from_checkpoints(tiny_template, root / NNET_FILE, vaes, tmp_path / "pkg")
    ref = tmp_path / "ref"
    assert export_main(["--checkpoint-dir", str(root), "--config", "tiny", "--out", str(ref),
                        "--modalities", *KEYS]) == 0
    for name in ("denoiser.onnx", "encoder_DEM_DEM.onnx", "decoder_S2L2A_B01_B09.onnx"):
        assert max_output_diff(ref / name, out / name) <= 1e-6, name


def test_missing_extra_and_misshapen_keys_are_named(tiny_template: Path, checkpoints: Path,
                                                     tmp_path: Path) -> None:
    sd = torch.load(checkpoints / NNET_FILE, weights_only=True)
    sd.pop("pos_embed")
    sd["extra.weight"] = torch.zeros(3)
    sd["decoder_preds.0.bias"] = torch.zeros(5)
    bad = tmp_path / "bad_nnet_ema.pth"
    torch.save(sd, bad)
    dest = tmp_path / "pkg"
    with pytest.raises(CheckpointError) as err:
        install_from_checkpoints(tiny_template, bad, vae_files(checkpoints), dest)
    message = str(err.value)
    assert "missing 1 keys ['pos_embed']" in message
    assert "unexpected keys ['extra.weight']" in message
    assert "decoder_preds.0.bias [5]" in message
    assert not dest.exists() and _leftovers(tmp_path) == []


def test_cancel_and_existing_dest_leave_nothing(tiny_template: Path, checkpoints: Path,
                                                tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 20

    dest = tmp_path / "pkg"
    with pytest.raises(Cancelled):
        install_from_checkpoints(tiny_template, checkpoints / NNET_FILE, vae_files(checkpoints),
                                 dest, cancel=cancel)
    assert not dest.exists() and _leftovers(tmp_path) == []
    dest.mkdir()
    (dest / "mine.txt").write_text("user data")
    with pytest.raises(InstallError, match="already exists"):
        install_from_checkpoints(tiny_template, checkpoints / NNET_FILE, vae_files(checkpoints),
                                 dest)
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]
    with pytest.raises(InstallError, match="needs the VAE folders"):
        install_from_checkpoints(tiny_template, checkpoints / NNET_FILE, {}, tmp_path / "new")
    with pytest.raises(InstallError, match="no graph template 'copgen-nope'"):
        install_from_checkpoints("copgen-nope", checkpoints / NNET_FILE, {}, tmp_path / "new")
    assert _leftovers(tmp_path) == []
