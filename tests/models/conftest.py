"""Shared fixtures of the models/ tests: the parity kit (read-only) and ONNX Runtime sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

KIT = Path(__file__).resolve().parents[1] / "fixtures" / "parity"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def kit() -> Path:
    return KIT


@pytest.fixture(scope="session")
def cases() -> Any:
    with np.load(KIT / "cases.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def nnet_config() -> dict[str, Any]:
    return json.loads((KIT / "nnet_tiny_config.json").read_text())


@pytest.fixture(scope="session")
def vae_config() -> dict[str, Any]:
    return json.loads((KIT / "vae_tiny_config.json").read_text())


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def max_abs(a: Any, b: Any) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def key_table(name: str) -> dict[str, tuple[int, ...]]:
    """``data/<name>``: the reference's key / shape listing of an official checkpoint."""
    table = {}
    for line in (Path(__file__).parent / "data" / name).read_text().splitlines():
        if not line.strip():
            continue
        key, shape = line.split("\t")[:2]
        table[key] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    return table
