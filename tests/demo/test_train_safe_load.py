"""Issue 13 case c: ``models.demo.train --export-only`` never runs a pickle from its workdir."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from models.autoencoder import AutoencoderKL  # noqa: E402
from models.checkpoints import CheckpointError  # noqa: E402
from models.demo import data as dm  # noqa: E402
from models.demo.train import TrainConfig, main, vae_config  # noqa: E402


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("victim", ["vae", "denoiser"])
def test_export_only_refuses_a_pickle_payload(tmp_path: Path, victim: str) -> None:
    workdir, marker, out = tmp_path / "work", tmp_path / "executed", tmp_path / "pkg"
    workdir.mkdir()
    (workdir / "scales.json").write_text(json.dumps({k: 1.0 for k in dm.DEMO_KEYS}))
    payload = {"ema": _Payload(marker), "step": 1, "losses": []}
    if victim == "vae":
        torch.save(payload, workdir / f"vae_{dm.DEMO_KEYS[0]}.pt")
    else:  # genuine VAE weights, a poisoned denoiser checkpoint
        specs = dm.demo_specs({k: 1.0 for k in dm.DEMO_KEYS})
        for key in dm.DEMO_KEYS:
            vae = AutoencoderKL(vae_config(specs[key], TrainConfig()))
            torch.save(vae.state_dict(), workdir / f"vae_{key}.pt")
        torch.save(payload, workdir / "denoiser.pt")
    raised: Exception | None = None
    try:
        main(["--workdir", str(workdir), "--out", str(out), "--export-only"])
    except Exception as exc:  # judged below, after the payload check
        raised = exc
    assert not marker.exists(), "the checkpoint's pickle payload was executed"
    assert isinstance(raised, CheckpointError) and "weights_only=True" in str(raised), raised
    assert not out.exists()
