"""A whole (tiny) demo training run exports a package that says where and how long it trained,
what a re-run reproduces, and carries the GPU variant (issue 19's provenance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from copgen_plugin.engine.package import load_package
from models.demo import data as dm
from models.demo.train import main

TINY = ["--scenes", "6", "--vae-steps-dem", "2", "--vae-steps-lulc", "2", "--vae-steps-s1",
        "2", "--vae-steps-s2", "3", "--vae-batch", "2", "--vae-ch", "32", "--denoiser-steps",
        "2", "--denoiser-batch", "2", "--embed-dim", "32", "--depth", "1", "--num-heads", "2",
        "--threads", "1"]


@pytest.mark.slow
def test_a_run_records_its_machine_stages_and_reproducibility(tmp_path: Path) -> None:
    workdir, out = tmp_path / "work", tmp_path / "pkg"
    assert main(["--workdir", str(workdir), "--out", str(out), *TINY]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    training = manifest["training"]
    assert training["recipe"] == 1 and training["denoiser_steps_done"] == 2
    assert training["machine"]["cores"] >= 1 and training["machine"]["gpu"] is False
    assert training["machine"]["torch"] and training["machine"]["cpu"]
    stages = training["stage_seconds"]
    assert set(stages) == {"denoiser", *(f"tokenizer {k}" for k in dm.DEMO_KEYS)}
    assert all(s["seconds"] > 0 and s["threads"] == [1] for s in stages.values())
    assert training["reproducible"].startswith("every random draw is seeded")
    assert "fp16" in manifest["variants"]  # the CUDA variant ships with the package
    assert (out / "denoiser_fp16.onnx").is_file()
    readme = (out / "README.md").read_text()
    assert "recipe 1" in readme and "bit for bit" in readme and "at 1 thread" in readme
    assert f"{training['machine']['cores']} cores" in readme
    assert load_package(out, verify="full").demo

    # a second session exports again: the stage times are the run's, not reset or doubled
    again = tmp_path / "pkg2"
    assert main(["--workdir", str(workdir), "--out", str(again), "--export-only", *TINY]) == 0
    assert json.loads((again / "manifest.json").read_text())["training"]["stage_seconds"] \
        == stages
