"""The README.md written into the exported demo package: what it is, and what it is not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.demo.provenance import describe, describe_machine

#: how far a re-run reproduces a package (the manifest's ``training.reproducible`` says it too)
REPRODUCIBLE = (
    "every random draw is seeded (world seeds, torch and numpy generators, resumed with the "
    "checkpoints), so a CPU re-run with the same thread counts repeats each stage's weights "
    "bit for bit, also when it is interrupted and resumed (tests/demo/test_train.py; recipe "
    "4's denoiser re-run from scratch to step 400 at two threads: all 216 model and EMA "
    "tensors bit-identical); another thread count or CPU changes the order of float sums, so "
    "the weights drift apart from their last bits on, and only the quality figures of "
    "benchmarks/bench_spread.py, within their noise, can be compared")

TEMPLATE = """# copgen-demo: a demo model trained on synthetic scenes (not COP-GEN's weights)

This package is the plugin's **demo model**. It has COP-GEN's architecture (per-modality KL-VAE
tokenizers and a multimodal U-ViT denoiser with one timestep per modality, DPM-Solver sampling)
at small widths, but it was **trained from scratch by `models/demo/train.py` on synthetic scenes
from `models/demo/world.py`**. It knows nothing about real places: use it to try the plugin
(`make demo`), never to fill real imagery. The real model is COP-GEN base
(`mespinosami/copgen-base`, CC-BY-4.0), downloaded separately.

* Modalities (COP-GEN keys, band orders and normalisations): `DEM_DEM` (metres, 30 m,
  16 x 16 px), `LULC_LULC` (Esri codes; the world uses 1 water, 2 trees, 5 crops, 7 built,
  8 bare, 11 rangeland), `S1RTC_vh_vv` (vv, vh gamma0 linear power, 10 m, 48 x 48 px),
  `S2L2A_B02_B03_B04_B08` (B04, B03, B02, B08 DN = reflectance x 10000, 10 m, 48 x 48 px).
* Footprint {footprint} m (COP-GEN: 1920 m). Latents: DEM 8 x 4 x 4, LULC and S1 8 x 12 x 12
  (the tokenizers downsample by 4, not 8: a 2 x 2 DEM latent could not hold the relief);
  S2 {s2_latent} (downsampling by {s2_factor}{s2_note}).
* Denoiser: embed_dim {embed_dim}, depth {depth}, {num_heads} heads, {tokens} tokens; VAEs ch
  {vae_ch}, ch_mult {ch_mult}, {vae_res_blocks} res blocks per level in the encoder (+1 in the
  decoder). ONNX graphs, {megabytes:.2f} MB in all: fp32 for CPUs and an fp16 denoiser
  variant for CUDA (`manifest.json`, `variants`).
* Training recipe {recipe} (`models/demo/config.py`): {scenes} synthetic footprints (world seeds
  {first}..{last}; seeds >= 1000000 are held back for tests, the benchmark and the sample
  scene). VAEs: {vae_steps_s2} (S2), {vae_steps_lulc} (LULC), {vae_steps_s1} (S1) and
  {vae_steps_dem} (DEM) steps of batch {vae_batch} full footprints, MSE + 1e-5 KL; denoiser
  {steps_done} of a {denoiser_steps}-step schedule, batch {denoiser_batch} (AdamW, peak lr {lr}),
  an independent timestep per modality, EMA {ema}; run seed {seed}. Departures from the
  official recipe, so that the conditions are learnt in thousands of steps: in a
  {clean_frac} share of the samples a random subset of modalities is held clean at t = 0; eps
  MSE weighted by 1/alpha_bar capped at {loss_weight_cap}; pos_embed initialised from
  ground-aligned sin-cos codes (spatial_init {spatial_init}). Final denoiser loss (sum of 4
  weighted eps MSEs): {final_loss}.
  Scale factors (1/std of posterior samples): {scales}.
* Where and how long: {machine}; no GPU. Wall time per stage: {times}.
* Reproducible: {reproducible}.
* Quality: `benchmarks/bench_spread.py` measures the S2 tokenizer's round trip, the
  calibration of the spread against the generator's own redraws and the fill error against
  GDAL FillNodata; `benchmarks/bench_conditioning.py` the use of the conditions. The figures of
  this package are in `models/demo/README.md`.
* Licence: GPL-2.0-or-later, as the plugin (the weights derive only from the project's code).

Reproduce: `python -m models.demo.train --recipe {recipe} --workdir /tmp/copgen-demo --out
resources/models/copgen-demo` (the stages resume across sessions from their checkpoints in
`--workdir`).
"""


_FIELDS = ("embed_dim", "depth", "num_heads", "scenes", "vae_steps_s2", "vae_steps_lulc",
           "vae_steps_s1", "vae_steps_dem", "vae_batch", "vae_ch", "vae_res_blocks",
           "denoiser_steps", "steps_done", "denoiser_batch", "lr", "ema", "seed",
           "clean_frac", "loss_weight_cap", "spatial_init")


def s2_latent(cfg: Mapping[str, Any]) -> tuple[int, int, int]:
    """The S2 latent shape of a training config (recipe 1's when the keys are absent)."""
    side = 48 // cfg.get("s2_factor", 4)
    return cfg.get("s2_z_channels", 8), side, side


def write_readme(out: Path, cfg: Mapping[str, Any], scales: Mapping[str, float],
                 losses: Sequence[float], trained_on: Mapping[str, Any] | None = None,
                 times: Mapping[str, Any] | None = None, tokens: int = 116) -> Path:
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 1e6
    factor = cfg.get("s2_factor", 4)
    channels, side, _ = s2_latent(cfg)
    patch = cfg.get("s2_patch") or 8 // factor
    note = "" if factor == 4 else (
        f", the sharper tokenizer of issue 19; the denoiser's S2 patch is {patch}: "
        f"{(side // patch) ** 2} S2 tokens of {patch} x {patch} x {channels} = "
        f"{patch * patch * channels} latent values each, within embed_dim")
    text = TEMPLATE.format(
        footprint=480, megabytes=size, first=0, last=cfg["scenes"] - 1,
        final_loss=f"{losses[-1]:.4f}" if losses else "n/a",
        scales=", ".join(f"{k} {v:.4f}" for k, v in scales.items()),
        **{k: cfg[k] for k in _FIELDS}, ch_mult=list(cfg["vae_ch_mult"]),
        recipe=cfg.get("recipe", 1), s2_latent=" x ".join(map(str, s2_latent(cfg))),
        s2_factor=factor, s2_note=note, machine=describe_machine(trained_on),
        times=describe(times or {}), reproducible=REPRODUCIBLE, tokens=tokens)
    path = out / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
