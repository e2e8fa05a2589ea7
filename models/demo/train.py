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
``--workdir`` and is skipped when its checkpoint exists (the tokenizer stages and the denoiser
also resume from a checkpoint every 200 steps), so a crash loses at most 200 steps. The knobs
and recipes live in ``config.py``, the tokenizer stages in ``tokenizers.py``.

CLI: ``python -m models.demo.train [--recipe 2] --workdir /tmp/copgen-demo --out
resources/models/copgen-demo`` (``--only KEY``: just that tokenizer stage).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from models.autoencoder import AutoencoderKL
from models.checkpoints import load_file
from models.configs import BackboneConfig, ModalityConfig
from models.demo import data as dm
from models.demo.config import RECIPES, TrainConfig, check_token_width, check_workdir
from models.demo.package_readme import REPRODUCIBLE, write_readme
from models.demo.provenance import machine, stage_times, timed_stage
from models.demo.recipe import masked_mse, noisy_modalities, spatial_pos_embed
from models.demo.tokenizers import (
    encode_all,
    save_checkpoint,
    scale_factor_of,
    train_vae,
    vae_config,
)
from models.denoiser import CopgenUViT, count_parameters
from models.manifest import ManifestInfo
from models.onnx_export import ExportOptions
from models.package import export_package

log = logging.getLogger(__name__)

MODEL_ID = "copgen-demo"
TITLE = "COP-GEN demo model trained on synthetic scenes, not COP-GEN's weights"
LICENCE = "GPL-2.0-or-later"


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


def run(cfg: TrainConfig, workdir: Path, out: Path | None, only: Sequence[str] = ()
        ) -> Path | None:
    """All stages, each skipped when its checkpoint exists; ``only``: just these tokenizer
    stages (e.g. the S2 one, to bank CPU time in a session too short for the whole run)."""
    torch.set_num_threads(cfg.threads)
    workdir.mkdir(parents=True, exist_ok=True)
    check_token_width(cfg)
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
            with timed_stage(workdir, f"tokenizer {key}", cfg.threads):
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
    with timed_stage(workdir, "denoiser", cfg.threads):
        ema, losses = train_denoiser(moments, scales, specs, cfg, workdir / "denoiser.pt")
    minutes = (time.perf_counter() - t0) / 60
    summary = {"config": dataclasses.asdict(cfg), "scale_factors": scales,
               "final_loss": losses[-1] if losses else None, "minutes_this_run": minutes}
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("training done in %.1f min, final loss %s", minutes, summary["final_loss"])
    if out is None:
        return None
    return export_demo(out, ema, vaes, specs, cfg, losses, workdir=workdir)


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
                losses: Sequence[float], step: int | None = None,
                workdir: Path | None = None) -> Path:
    """``step``: the checkpoint's step when exporting a run stopped before ``denoiser_steps``;
    ``workdir``: where the run's stage times are (recorded in the manifest and README)."""
    step = cfg.denoiser_steps if step is None else step
    times = stage_times(workdir) if workdir is not None else {}
    trained_on = machine()
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
                            "final_loss": losses[-1] if losses else None,
                            "machine": trained_on, "stage_seconds": times,
                            "reproducible": REPRODUCIBLE}},
    )
    path = export_package(out, model.eval(), dict(vaes), info, ExportOptions(), specs,
                          gpu_variant=True)
    write_readme(path, {**dataclasses.asdict(cfg), "steps_done": step},
                 {k: s.scale_factor or 1.0 for k, s in specs.items()}, losses,
                 trained_on=trained_on, times=times, tokens=model.config.num_tokens)
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
        out = export_demo(args.out, model, vaes, specs, cfg, losses, step, args.workdir)
    else:
        out = run(cfg, args.workdir, args.out, args.only)
    if out is not None:
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
