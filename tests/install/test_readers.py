"""The restricted .pth reader and the safetensors reader against files torch really wrote."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from copgen_plugin.errors import CheckpointError
from copgen_plugin.install.checkpoints import open_state_dict


class _Payload:
    """What an attacker pickles: calling os.system when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _values(path: Path) -> dict[str, np.ndarray]:
    with open_state_dict(path) as sd:
        return {k: ref.read() for k, ref in sd.tensors.items()}


def test_pth_tensors_equal_torch_for_each_dtype_and_layout(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=gen)
    sd = {
        "f32": torch.randn(3, 4, 2, generator=gen),
        "f16": torch.randn(7, generator=gen).half(),
        "bf16": torch.randn(4, 3, generator=gen).bfloat16(),
        "transposed": base.t(),          # a strided view
        "slice": base[2:5],              # an offset into a shared storage
        "whole": base,
        "scalar": torch.tensor(2.5),
        "int": torch.arange(5),
    }
    path = tmp_path / "mixed.pth"
    torch.save(sd, path)
    got = _values(path)
    assert list(got) == list(sd)
    for key, tensor in sd.items():
        want = tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
        assert got[key].shape == want.shape, key
        assert np.array_equal(got[key], want), key
        assert got[key].dtype == (np.float16 if key == "f16" else want.dtype), key


def test_pickle_code_is_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "500000_nnet_ema.pth"
    torch.save({"pos_embed": torch.zeros(2), "evil": _Payload(marker)}, path)
    with pytest.raises(CheckpointError) as err:
        open_state_dict(path)
    assert str(path) in str(err.value)
    assert f"the global {os.system.__module__}.system" in str(err.value)
    assert not marker.exists()


def test_git_lfs_pointer_and_truncated_files_get_their_own_message(tmp_path: Path) -> None:
    pointer = tmp_path / "model-50-ema.pth"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:"
                       + "ab" * 32 + "\nsize 351248935\n")
    with pytest.raises(CheckpointError, match="is a git-LFS pointer, not the weights"):
        open_state_dict(pointer)
    full = tmp_path / "full.pth"
    torch.save({"w": torch.randn(1000)}, full)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt zip"):
        open_state_dict(cut)
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch zip checkpoint"):
        open_state_dict(text)


def test_nested_state_dicts(tmp_path: Path) -> None:
    w = torch.randn(3, 3)
    torch.save({"state_dict": {"conv.weight": w}, "epoch": 3}, tmp_path / "a.pth")
    assert np.array_equal(_values(tmp_path / "a.pth")["conv.weight"], w.numpy())
    torch.save({"ema": {"ema_model.conv.weight": w, "ema_model.loss.w": w, "step": 1},
                "opt": {"lr": 0.1}}, tmp_path / "model-50.pt")
    assert list(_values(tmp_path / "model-50.pt")) == ["conv.weight"]
    torch.save({"conv.weight": w, "note": "text"}, tmp_path / "c.pth")
    with pytest.raises(CheckpointError, match="non-tensor entries"):
        open_state_dict(tmp_path / "c.pth")


def _write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> None:
    """The format as its specification writes it: u64 header size, JSON header, data."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (dtype, raw) in tensors.items():
        data = raw.tobytes()
        header[name] = {"dtype": dtype, "shape": list(raw.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_safetensors_values_and_truncation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((4, 5)).astype(np.float32)
    bf16 = torch.from_numpy(rng.standard_normal(6).astype(np.float32)).bfloat16()
    path = tmp_path / "w.safetensors"
    _write_safetensors(path, {"a": ("F32", f32),
                              "b": ("BF16", bf16.view(torch.int16).numpy())})
    got = _values(path)
    assert np.array_equal(got["a"], f32)
    assert np.array_equal(got["b"], bf16.float().numpy())
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(CheckpointError, match="truncated"):
        open_state_dict(path)
