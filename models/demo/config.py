"""The demo training run's knobs: ``TrainConfig``, the recipes, and the workdir's guard.

Recipe 1 is the first shipped demo model; recipe 2 (issue 19) changes the S2 tokenizer. A run's
workdir records its config so that resuming across sessions cannot mix two recipes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

from models.configs import LATENT_CHANNELS, ModalityConfig
from models.demo import data as dm


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
    # the denoiser's S2 patch; 0 = a token covers 8 x 8 pixels (8 // s2_factor). A token's
    # s2_patch^2 x s2_z_channels values must fit through embed_dim
    s2_patch: int = 0
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

    def latents(self) -> dict[str, tuple[int, int, int | None]]:
        """(latent channels, factor, patch) per key where it departs from data.demo_specs'
        default."""
        if (self.s2_z_channels, self.s2_factor, self.s2_patch) == (
                LATENT_CHANNELS, dm.DOWNSAMPLING, 0):
            return {}
        return {dm.S2_KEY: (self.s2_z_channels, self.s2_factor, self.s2_patch or None)}

    def specs(self, scales: Mapping[str, float] | None = None) -> dict[str, ModalityConfig]:
        return dm.demo_specs(scales, self.latents())


# Recipe 1 is the first shipped demo model (soft S2: 303 DN, gradient ratio 0.54); recipe 2 is
# issue 19's sharper S2 tokenizer, chosen by the trials recorded in models/demo/README.md;
# recipe 3 its wider, longer successor.
RECIPES: dict[int, TrainConfig] = {
    1: TrainConfig(),
    2: TrainConfig(recipe=2, vae_steps_s2=4000, s2_factor=2, threads=1),
    # recipe 2 reached 173.5 DN / 0.869 at 4000 steps (target <= 150 DN): twice the S2 latent
    # channels (the denoiser keeps 116 tokens, each twice as wide) and a 1.5x longer stage;
    # its denoiser runs 1.5x recipe 1's steps (the shipped package: its tokenizers were
    # trained at one thread, its denoiser at two, `--threads 2`)
    3: TrainConfig(recipe=3, vae_steps_s2=6000, s2_factor=2, s2_z_channels=16,
                   denoiser_steps=12000, threads=1),
    # recipe 3's denoiser could not pass its S2 tokens (4 x 4 x 16 = 256 values through 120
    # dims: eps MSE 0.53 even at t = 999, garbage samples): recipe 3's tokenizers, S2 patch 2
    # (64 values per token, 144 S2 tokens, 224 in all, as COP-GEN's patch 2)
    4: TrainConfig(recipe=4, vae_steps_s2=6000, s2_factor=2, s2_z_channels=16, s2_patch=2,
                   denoiser_steps=5000, threads=2),
}


DENOISER_FIELDS = frozenset({"s2_patch", "denoiser_steps", "denoiser_batch", "lr", "warmup", "ema",
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


def check_token_width(cfg: TrainConfig) -> None:
    """A token carries patch x patch x channels latent values through ``embed_dim``; more
    values than dims cannot all come back out, so the denoiser cannot even pass its noisy input
    through (recipe 3: 4 x 4 x 16 = 256 values into 120 dims, eps MSE 0.53 at t = 999 after
    12000 steps, samples of noise). Refused before any training time is spent."""
    for spec in cfg.specs().values():
        if not spec.is_image:
            continue
        values = spec.patch_size ** 2 * spec.latent_shape[0]
        if values > cfg.embed_dim:
            raise SystemExit(
                f"{spec.key}: a token holds {spec.patch_size} x {spec.patch_size} x "
                f"{spec.latent_shape[0]} = {values} latent values, more than embed_dim "
                f"{cfg.embed_dim}: lower the S2 patch (--s2-patch) or the latent channels")
