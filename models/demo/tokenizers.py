"""The demo run's tokenizer stages: one KL-VAE per modality, resumable, and its scale factor.

MSE reconstruction + small KL as COP-GEN's VAEs (plus, for S2 in recipe 2, an L1 term on pixel
differences, issue 19); every ``save_every`` steps a checkpoint with the optimiser, schedule and
random states, so a stage can be spread over sessions and end with the same weights.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from models.autoencoder import AutoencoderKL
from models.checkpoints import load_file
from models.configs import ModalityConfig, VAEConfig
from models.demo import data as dm
from models.demo.config import TrainConfig

log = logging.getLogger(__name__)

KL_WEIGHT: dict[str, float] = {}  # per key; all use the default now
KL_DEFAULT = 1e-5


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
