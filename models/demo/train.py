"""Train the demo model on synthetic scenes and export it as a model package.

Why this recipe: it is COP-GEN's own (KL-VAE tokenizers, scale factor = 1/std of posterior
samples, U-ViT trained with an independent uniform timestep and independent noise per modality,
loss = sum of per-modality eps MSE, AdamW, EMA), shrunk to fit well under an hour on 2 shared
CPU cores. Three departures make the cross-modal mappings learnable in thousands of steps, not
the official 500k (measured: after 1500 official steps the network ignored its conditions):
a share of the samples holds a random subset of modalities clean at t = 0, as conditions are at
inference; the eps MSE is weighted by 1/alpha_bar (capped), so the high-noise steps where the
layout is decided count; ``pos_embed`` starts from ground-aligned sin-cos codes. None of this
changes the architecture, the package or the sampler. Every stage writes a checkpoint in
``--workdir`` and is skipped when its checkpoint exists, so a crash loses at most one stage.

CLI: ``python -m models.demo.train --workdir /tmp/copgen-demo --out resources/models/copgen-demo``
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from models.autoencoder import AutoencoderKL
from models.checkpoints import load_file
from models.configs import LATENT_CHANNELS, BackboneConfig, ModalityConfig, VAEConfig
from models.demo import data as dm
from models.demo.package_readme import write_readme
from models.demo.recipe import masked_mse, noisy_modalities, spatial_pos_embed
from models.denoiser import CopgenUViT, count_parameters
from models.manifest import ManifestInfo
from models.onnx_export import ExportOptions
from models.package import export_package

log = logging.getLogger(__name__)

MODEL_ID = "copgen-demo"
TITLE = "COP-GEN demo model trained on synthetic scenes, not COP-GEN's weights"
LICENCE = "GPL-2.0-or-later"
KL_WEIGHT: dict[str, float] = {}  # per key; all use the default now
KL_DEFAULT = 1e-5


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every knob of a run; the whole run is reproducible from it (CPU, fixed thread count)."""

    recipe: int = 1  # RECIPES[recipe] gives the defaults; 1 = the first shipped demo model
    seed: int = 0
    scenes: int = 2000
    # tokenizer steps per modality: S2 matters most (gap fills), S1 is mostly speckle, the DEM's
    # 32 px images are cheap and its network-space relief is tiny
    vae_steps_dem: int = 800
    vae_steps_lulc: int = 800
    vae_steps_s1: int = 300
    vae_steps_s2: int = 4000
    vae_batch: int = 8
    vae_crop: int = 48  # full footprints: GroupNorm statistics of crops shift the output level
    vae_lr: float = 2e-3
    vae_ch: int = 64
    vae_ch_mult: tuple[int, ...] = (1, 1, 1)  # 2 downsamplings: factor 4 (data.DOWNSAMPLING)
    vae_res_blocks: int = 0
    # the S2 tokenizer (issue 19): latent channels, image pixels per latent cell, and the
    # weight of an L1 term on the pixel gradients (parcel edges, shorelines) beside the MSE
    s2_z_channels: int = 8
    s2_factor: int = 4
    s2_edge_weight: float = 0.0
    denoiser_steps: int = 8000
    denoiser_batch: int = 32
    lr: float = 8e-4
    warmup: int = 100
    ema: float = 0.999
    # share of samples in which a random subset of modalities is held clean at t = 0, as the
    # conditions are at inference; the official recipe (0.0) learns the cross-modal mappings
    # only after hundreds of thousands of steps, far beyond a CPU budget
    clean_frac: float = 0.5
    # eps-MSE weight 1/alpha_bar (= SNR + 1, the v-prediction loss) capped here; 1.0 = the
    # official unweighted loss, which all but ignores the high-noise steps where the layout,
    # and so the use of the conditions, is decided
    loss_weight_cap: float = 50.0
    # 1: start pos_embed from 2-D sin-cos codes of each token's ground position, shared by
    # all modalities, so that "same place" is known from step 0 instead of learned
    spatial_init: int = 1
    embed_dim: int = 120  # 128 would pass the 20 MB package limit by a hair
    depth: int = 6
    num_heads: int = 4
    threads: int = 2

    def latents(self) -> dict[str, tuple[int, int]]:
        """(latent channels, factor) per key where it departs from data.demo_specs' default."""
        if (self.s2_z_channels, self.s2_factor) == (LATENT_CHANNELS, dm.DOWNSAMPLING):
            return {}
        return {dm.S2_KEY: (self.s2_z_channels, self.s2_factor)}

    def specs(self, scales: Mapping[str, float] | None = None) -> dict[str, ModalityConfig]:
        return dm.demo_specs(scales, self.latents())


# Recipe 1 is the first shipped demo model (soft S2: 303 DN, gradient ratio 0.54); recipe 2 is
# issue 19's sharper S2 tokenizer, chosen by the trials recorded in models/demo/README.md.
RECIPES: dict[int, TrainConfig] = {
    1: TrainConfig(),
    2: TrainConfig(recipe=2, vae_steps_s2=6000, s2_z_channels=32, s2_edge_weight=0.5,
                   threads=1),
}


def vae_config(spec: ModalityConfig, cfg: TrainConfig) -> VAEConfig:
    """ch 64, not 32: GroupNorm(32) over 32 channels is one channel per group, which wipes
    each channel's spatial mean before ``conv_out`` so the decoder cannot set absolute levels
    (brightness, elevation); 2 channels per group can. No res blocks in the encoder keeps the
    four tokenizers at ~14 MB and the step as cheap as ch 32 with one block."""
    channels, lat = spec.latent_shape[0], spec.latent_shape[1]
    levels = round(math.log2(spec.image_shape[1] // lat)) + 1  # 1 + downsamplings
    ch_mult = cfg.vae_ch_mult if len(cfg.vae_ch_mult) == levels else (cfg.vae_ch_mult[0],) * levels
    return VAEConfig(in_channels=spec.image_shape[0], resolution=spec.image_shape[1],
                     ch=cfg.vae_ch, ch_mult=ch_mult, num_res_blocks=cfg.vae_res_blocks,
                     z_channels=channels)


def vae_steps(key: str, cfg: TrainConfig) -> int:
    return {dm.DEM_KEY: cfg.vae_steps_dem, dm.LULC_KEY: cfg.vae_steps_lulc,
            dm.S1_KEY: cfg.vae_steps_s1, dm.S2_KEY: cfg.vae_steps_s2}[key]


def save_checkpoint(state: Mapping[str, object], path: Path) -> None:
    """Write a sibling then rename: a kill mid-save leaves the previous checkpoint whole, and
    a resumed run's memory-mapped tensors (``load_file``) keep their file (truncating it in
    place is a SIGBUS)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(dict(state), tmp)
    tmp.replace(path)


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random rot90/flip: the tokenizer is a compressor, orientation does not matter to it."""
    x = np.rot90(x, k=int(rng.integers(4)), axes=(-2, -1))
    return np.ascontiguousarray(x[..., ::-1] if rng.random() < 0.5 else x)


def edge_l1(rec: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean L1 error of the horizontal and vertical pixel differences: the MSE alone lets a
    small latent trade every edge for a blur of the right mean; this term charges for it."""
    dx = (rec[..., :, 1:] - rec[..., :, :-1]) - (x[..., :, 1:] - x[..., :, :-1])
    dy = (rec[..., 1:, :] - rec[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])
    return 0.5 * (dx.abs().mean() + dy.abs().mean())


VaeCallback = Callable[[int, AutoencoderKL], None]


def train_vae(key: str, spec: ModalityConfig, data: Mapping[str, np.ndarray], cfg: TrainConfig,
              ckpt: Path | None = None, callback: VaeCallback | None = None,
              every: int = 500, save_every: int = 200) -> AutoencoderKL:
    """MSE reconstruction + small KL (+ the S2 edge term) on full footprints.

    ``ckpt``: resume from / save to it every ``save_every`` steps (the S2 stage of recipe 2
    is over an hour on one core); ``callback(step, vae)`` every ``every`` steps (the trials'
    figures). A resumed run ends with the same weights as an uninterrupted one.
    """
    torch.manual_seed(cfg.seed * 101 + dm.DEMO_KEYS.index(key))
    rng = np.random.default_rng([cfg.seed, dm.DEMO_KEYS.index(key), 11])
    vae = AutoencoderKL(vae_config(spec, cfg))
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    steps = vae_steps(key, cfg)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.vae_lr, total_steps=steps,
                                                pct_start=0.05)
    start = 0
    if ckpt is not None and ckpt.is_file():
        state = load_file(ckpt)
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = int(state["step"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed the %s tokenizer at step %d of %d", key, start, steps)
    size = spec.image_shape[1]
    crop = min(cfg.vae_crop, size)
    n = len(data[key])
    kl_w = KL_WEIGHT.get(key, KL_DEFAULT)
    edge_w = cfg.s2_edge_weight if key == dm.S2_KEY else 0.0
    t0 = time.perf_counter()
    for step in range(start, steps):
        rows = rng.integers(0, n, cfg.vae_batch)
        y0, x0 = rng.integers(0, size - crop + 1, 2) // 8 * 8
        x = dm.network_batch(data, key, rows)[..., y0:y0 + crop, x0:x0 + crop]
        x = torch.from_numpy(_augment(x, rng))
        moments = vae.encode_moments(x)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        logvar = logvar.clamp(-30.0, 20.0)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        rec = vae.decoder(vae.post_quant_conv(z))
        mse = torch.mean((rec - x) ** 2)
        kl = 0.5 * torch.mean(mean ** 2 + logvar.exp() - 1.0 - logvar)
        loss = mse + kl_w * kl
        if edge_w:
            loss = loss + edge_w * edge_l1(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log.info("vae %s step %d mse %.5f kl %.3f (%.2f s/step)", key, step, mse.item(),
                     kl.item(), (time.perf_counter() - t0) / (step + 1 - start))
        if ckpt is not None and ((step + 1) % save_every == 0 or step + 1 == steps):
            save_checkpoint({"model": vae.state_dict(), "opt": opt.state_dict(),
                             "sched": sched.state_dict(), "step": step + 1,
                             "rng": rng.bit_generator.state,
                             "torch_rng": torch.get_rng_state()}, ckpt)
        if callback is not None and ((step + 1) % every == 0 or step + 1 == steps):
            callback(step + 1, vae.eval())
            vae.train()
    return vae.eval()


@torch.no_grad()
def encode_all(vae: AutoencoderKL, key: str, data: Mapping[str, np.ndarray],
               batch: int = 64) -> np.ndarray:
    """Unscaled posterior moments (N, 16, h, w) of every footprint, as the official cache."""
    out = [vae.encode_moments(torch.from_numpy(dm.network_batch(data, key, np.arange(i, min(
        i + batch, len(data[key])))))).numpy() for i in range(0, len(data[key]), batch)]
    return np.concatenate(out)


def scale_factor_of(moments: np.ndarray, seed: int, count: int = 500) -> float:
    """1 / std of posterior samples (the official ``compute_scaling_factor`` recipe)."""
    rng = np.random.default_rng([seed, 23])
    m = moments[rng.choice(len(moments), min(count, len(moments)), replace=False)]
    mean, logvar = np.split(m, 2, axis=1)
    z = mean + np.exp(0.5 * np.clip(logvar, -30, 20)) * rng.standard_normal(mean.shape)
    return float(1.0 / z.std())


def alphas_cumprod() -> torch.Tensor:
    """SD scaled-linear schedule, 1000 steps (float64 as the official table)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def train_denoiser(moments: Mapping[str, np.ndarray], scales: Mapping[str, float],
                   specs: Mapping[str, ModalityConfig], cfg: TrainConfig, ckpt: Path
                   ) -> tuple[CopgenUViT, list[float]]:
    """Independent timestep and noise per modality and sample; returns the EMA model."""
    torch.manual_seed(cfg.seed * 7 + 3)
    rng = np.random.default_rng([cfg.seed, 99])
    bcfg = BackboneConfig.for_modalities(specs.values(), cfg.embed_dim, cfg.depth,
                                         cfg.num_heads)
    model = CopgenUViT(bcfg)
    with torch.no_grad():
        torch.nn.init.trunc_normal_(model.pos_embed, std=0.02)
        if cfg.spatial_init:
            model.pos_embed += spatial_pos_embed(bcfg)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.03, betas=(0.9, 0.99))
    total = cfg.denoiser_steps

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, total - cfg.warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    start, losses = 0, []
    if ckpt.is_file():
        state = load_file(ckpt)  # weights_only: a pickle in the workdir never runs
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start, losses = state["step"], state["losses"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed the denoiser at step %d", start)
    log.info("denoiser: %d parameters, %d tokens", count_parameters(model), bcfg.num_tokens)
    keys = bcfg.keys
    mom = {k: torch.from_numpy(moments[k]) for k in keys}
    ac = alphas_cumprod()
    n = len(mom[keys[0]])
    t0, running = time.perf_counter(), []
    for step in range(start, total):
        rows = torch.from_numpy(rng.integers(0, n, cfg.denoiser_batch))
        noisy = torch.from_numpy(noisy_modalities(rng, cfg.denoiser_batch, len(keys),
                                                  cfg.clean_frac))
        zs, ts, eps_all, weights = [], [], [], []
        for i, k in enumerate(keys):
            mean, logvar = torch.chunk(mom[k][rows], 2, dim=1)
            std = torch.exp(0.5 * logvar.clamp(-30, 20))
            z0 = scales[k] * (mean + std * torch.randn_like(mean))
            nsteps = torch.randint(1, 1001, (cfg.denoiser_batch,)) * noisy[:, i]
            abar = ac[(nsteps - 1).clamp(min=0)]  # clean rows (n = 0) are not noised below
            a = abar.sqrt().float().view(-1, 1, 1, 1)
            s = (1 - abar).sqrt().float().view(-1, 1, 1, 1)
            clean = (nsteps == 0).view(-1, 1, 1, 1)
            eps = torch.randn_like(z0)
            zs.append(torch.where(clean, z0, a * z0 + s * eps))
            ts.append(nsteps.float())
            eps_all.append(eps)
            weights.append((1.0 / abar).clamp(max=cfg.loss_weight_cap).float())
        preds = model(zs, ts)
        per_mod = [masked_mse(p, e, noisy[:, i] * w)
                   for i, (p, e, w) in enumerate(zip(preds, eps_all, weights, strict=True))]
        loss = torch.stack(per_mod).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            decay = min(cfg.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1.0 - decay)
        running.append([x.item() for x in per_mod])
        if (step + 1) % 100 == 0 or step + 1 == total:
            avg = np.mean(running, axis=0)
            losses.append(float(avg.sum()))
            running = []
            log.info("denoiser step %d loss %.4f (%s) lr %.2e %.2f s/step", step + 1, avg.sum(),
                     " ".join(f"{k.split('_')[0]} {v:.3f}" for k, v in zip(keys, avg, strict=True)),
                     sched.get_last_lr()[0], (time.perf_counter() - t0) / (step + 1 - start))
        if (step + 1) % 200 == 0 or step + 1 == total:
            save_checkpoint({"model": model.state_dict(), "ema": ema.state_dict(),
                             "opt": opt.state_dict(), "sched": sched.state_dict(),
                             "step": step + 1, "losses": losses,
                             "rng": rng.bit_generator.state,
                             "torch_rng": torch.get_rng_state()}, ckpt)
    return ema, losses


DENOISER_FIELDS = frozenset({"denoiser_steps", "denoiser_batch", "lr", "warmup", "ema",
                             "clean_frac", "loss_weight_cap", "spatial_init", "embed_dim",
                             "depth", "num_heads"})


def check_workdir(cfg: TrainConfig, workdir: Path) -> None:
    """A workdir holds one run: resuming it with another config would mix two recipes'
    checkpoints, so the first call records the config and later ones must match it. The
    thread count changes speed, not the recipe; the denoiser's knobs may still change while
    no denoiser checkpoint exists (tokenizer stages banked before its length is decided)."""
    path = workdir / "config.json"
    mine = json.loads(json.dumps(dataclasses.asdict(cfg)))
    free = {"threads"} | (set() if (workdir / "denoiser.pt").is_file() else DENOISER_FIELDS)
    if path.is_file():
        theirs = json.loads(path.read_text())
        diff = sorted(k for k in mine.keys() | theirs.keys()
                      if k not in free and mine.get(k) != theirs.get(k))
        if diff:
            raise SystemExit(f"{workdir} holds a run with another config ({', '.join(diff)} "
                             f"differ, see {path}): resume it with the same options or use "
                             "another --workdir")
    path.write_text(json.dumps(mine, indent=2))


def run(cfg: TrainConfig, workdir: Path, out: Path | None, only: Sequence[str] = ()
        ) -> Path | None:
    """All stages, each skipped when its checkpoint exists; ``only``: just these tokenizer
    stages (e.g. the S2 one, to bank CPU time in a session too short for the whole run)."""
    torch.set_num_threads(cfg.threads)
    workdir.mkdir(parents=True, exist_ok=True)
    check_workdir(cfg, workdir)
    specs = cfg.specs()
    t0 = time.perf_counter()
    data = dm.build_dataset(range(cfg.seed * 1_000_003 % dm.HELD_OUT_SEED,
                                 cfg.seed * 1_000_003 % dm.HELD_OUT_SEED + cfg.scenes), specs)
    log.info("dataset: %d scenes in %.0f s", cfg.scenes, time.perf_counter() - t0)
    vaes: dict[str, AutoencoderKL] = {}
    moments: dict[str, np.ndarray] = {}
    scales: dict[str, float] = {}
    for key in dm.DEMO_KEYS:
        if only and key not in only:
            continue
        path = workdir / f"vae_{key}.pt"
        if path.is_file():
            vae = AutoencoderKL(vae_config(specs[key], cfg))
            vae.load_state_dict(load_file(path))
            vae.eval()
        else:
            partial = workdir / f"vae_{key}.partial.pt"
            vae = train_vae(key, specs[key], data, cfg, partial)
            save_checkpoint(vae.state_dict(), path)
            partial.unlink(missing_ok=True)
        moments[key] = encode_all(vae, key, data)
        scales[key] = scale_factor_of(moments[key], cfg.seed)
        vae.scale_factor = scales[key]
        vaes[key] = vae
        log.info("%s: scale factor %.4f (%.0f s so far)", key, scales[key],
                 time.perf_counter() - t0)
    del data
    if only:
        log.info("stages %s done (%.0f s); run again without --only to continue",
                 ", ".join(only), time.perf_counter() - t0)
        return None
    (workdir / "scales.json").write_text(json.dumps(scales, indent=2))
    specs = cfg.specs(scales)
    ema, losses = train_denoiser(moments, scales, specs, cfg, workdir / "denoiser.pt")
    minutes = (time.perf_counter() - t0) / 60
    summary = {"config": dataclasses.asdict(cfg), "scale_factors": scales,
               "final_loss": losses[-1] if losses else None, "minutes_this_run": minutes}
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("training done in %.1f min, final loss %s", minutes, summary["final_loss"])
    if out is None:
        return None
    return export_demo(out, ema, vaes, specs, cfg, losses)


def load_trained(cfg: TrainConfig, workdir: Path) -> tuple[
        CopgenUViT, dict[str, AutoencoderKL], dict[str, ModalityConfig], list, int]:
    """The VAEs and the denoiser's EMA from a (possibly still running) run's checkpoints."""
    scales = json.loads((workdir / "scales.json").read_text())
    specs = cfg.specs(scales)
    vaes = {}
    for key in dm.DEMO_KEYS:
        vae = AutoencoderKL(vae_config(specs[key], cfg), scale_factor=scales[key])
        vae.load_state_dict(load_file(workdir / f"vae_{key}.pt"))
        vaes[key] = vae.eval()
    state = load_file(workdir / "denoiser.pt")
    model = CopgenUViT(BackboneConfig.for_modalities(specs.values(), cfg.embed_dim, cfg.depth,
                                                     cfg.num_heads))
    model.load_state_dict(state["ema"])
    log.info("loaded the EMA denoiser of step %d", state["step"])
    return model.eval(), vaes, specs, state["losses"], int(state["step"])


def export_demo(out: Path, model: CopgenUViT, vaes: Mapping[str, AutoencoderKL],
                specs: Mapping[str, ModalityConfig], cfg: TrainConfig,
                losses: Sequence[float], step: int | None = None) -> Path:
    """``step``: the checkpoint's step when exporting a run stopped before ``denoiser_steps``."""
    step = cfg.denoiser_steps if step is None else step
    stopped = "" if step == cfg.denoiser_steps else f"-of-{cfg.denoiser_steps}"
    info = ManifestInfo(
        model_id=MODEL_ID,
        model_version=f"seed-{cfg.seed}-step-{step}{stopped}-ema",
        title=TITLE,
        licence=LICENCE,
        source=f"synthetic scenes from models/demo/world.py, seed {cfg.seed} "
               f"(trained by models/demo/train.py)",
        config="demo",
        architecture={},
        demo=True,
        extra={"footprint_m": dm.FOOTPRINT_M,
               "training": {"script": "models/demo/train.py", **dataclasses.asdict(cfg),
                            "denoiser_steps_done": step,
                            "final_loss": losses[-1] if losses else None}},
    )
    path = export_package(out, model.eval(), dict(vaes), info, ExportOptions(), specs)
    write_readme(path, {**dataclasses.asdict(cfg), "steps_done": step},
                 {k: s.scale_factor or 1.0 for k, s in specs.items()}, losses)
    return path


_CLI_TYPES: dict[str, type] = {"int": int, "float": float}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.demo.train", description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True, help="checkpoints and caches")
    parser.add_argument("--out", type=Path, default=None, help="package folder to (re)write")
    parser.add_argument("--export-only", action="store_true",
                        help="export the latest checkpoints of --workdir without training")
    parser.add_argument("--only", action="append", choices=dm.DEMO_KEYS, default=[],
                        help="train only this tokenizer stage (repeatable), then stop")
    recipe = argparse.ArgumentParser(add_help=False)
    recipe.add_argument("--recipe", type=int, default=1, choices=sorted(RECIPES))
    base = RECIPES[recipe.parse_known_args(argv)[0].recipe]
    for f in dataclasses.fields(TrainConfig):
        if f.type in _CLI_TYPES:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=_CLI_TYPES[f.type],
                                default=getattr(base, f.name))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = dataclasses.replace(base, **{f.name: getattr(args, f.name)
                                       for f in dataclasses.fields(TrainConfig)
                                       if f.type in _CLI_TYPES})
    if args.export_only:
        if args.out is None:
            parser.error("--export-only needs --out")
        torch.set_num_threads(cfg.threads)
        model, vaes, specs, losses, step = load_trained(cfg, args.workdir)
        out = export_demo(args.out, model, vaes, specs, cfg, losses, step)
    else:
        out = run(cfg, args.workdir, args.out, args.only)
    if out is not None:
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
