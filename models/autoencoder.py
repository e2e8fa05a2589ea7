"""Per-modality KL autoencoder ("tokenizer") of COP-GEN, written from the spec.

The module tree mirrors the official ``FrozenAutoencoderKL`` (``encoder.down.i.block.j``,
``decoder.up.i.block.j``, ``mid.block_1/attn_1/block_2``, ``quant_conv``, ``post_quant_conv``),
so ``model-50-ema.pth`` loads strictly. Block counts come from the config, never hard-coded,
because the parity kit's tiny VAEs use 1 (encoder) and 2 (decoder) blocks per level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from models.configs import VAEConfig

GROUPNORM_EPS = 1e-6
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def Normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=GROUPNORM_EPS, affine=True)


def swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    """GN-swish-conv twice plus a shortcut (1x1 ``nin_shortcut`` when channels change)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = (
            nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(self.dropout(swish(self.norm2(h))))
        shortcut = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return shortcut + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1 convs, scale c^-0.5, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = Normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).reshape(b, c, hh * ww).transpose(1, 2)  # (B, N, C)
        k = self.k(h).reshape(b, c, hh * ww)  # (B, C, N)
        v = self.v(h).reshape(b, c, hh * ww)  # (B, C, N)
        attn = torch.softmax(torch.bmm(q, k) * (int(c) ** -0.5), dim=2)  # (B, Nq, Nk)
        out = torch.bmm(v, attn.transpose(1, 2)).reshape(b, c, hh, ww)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Asymmetric zero pad (right/bottom by 1), then 3x3 stride-2 conv without padding."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """One resolution level: ``block`` list, ``attn`` list, optional resampler."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()

    def run_blocks(self, h: Tensor) -> Tensor:
        for i, blk in enumerate(self.block):
            h = blk(h)
            if len(self.attn) > 0:
                h = self.attn[i](h)
        return h


class _Mid(nn.Module):
    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, h: Tensor) -> Tensor:
        return self.block_2(self.attn_1(self.block_1(h)))


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        in_mult = (1, *cfg.ch_mult)
        res = cfg.resolution
        self.down = nn.ModuleList()
        block_in = cfg.ch
        for level, mult in enumerate(cfg.ch_mult):
            lvl = _Level()
            block_in = cfg.ch * in_mult[level]
            block_out = cfg.ch * mult
            for _ in range(cfg.num_res_blocks):
                lvl.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    lvl.attn.append(AttnBlock(block_in))
            if level != len(cfg.ch_mult) - 1:
                lvl.downsample = Downsample(block_in)
                res //= 2
            self.down.append(lvl)
        self.mid = _Mid(block_in, cfg.dropout)
        self.norm_out = Normalize(block_in)
        z_out = 2 * cfg.z_channels if cfg.double_z else cfg.z_channels
        self.conv_out = nn.Conv2d(block_in, z_out, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for lvl in self.down:
            h = lvl.run_blocks(h)
            if hasattr(lvl, "downsample"):
                h = lvl.downsample(h)
        h = self.mid(h)
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    """``up`` is stored by level (0 = full resolution) and run from the last level to 0."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        n = len(cfg.ch_mult)
        block_in = cfg.ch * cfg.ch_mult[-1]
        res = cfg.resolution // 2 ** (n - 1)
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, padding=1)
        self.mid = _Mid(block_in, cfg.dropout)
        levels: list[_Level] = []
        for level in reversed(range(n)):
            lvl = _Level()
            block_out = cfg.ch * cfg.ch_mult[level]
            for _ in range(cfg.num_res_blocks + 1):
                lvl.block.append(ResnetBlock(block_in, block_out, cfg.dropout))
                block_in = block_out
                if res in cfg.attn_resolutions:
                    lvl.attn.append(AttnBlock(block_in))
            if level != 0:
                lvl.upsample = Upsample(block_in)
                res *= 2
            levels.insert(0, lvl)
        self.up = nn.ModuleList(levels)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid(self.conv_in(z))
        for lvl in reversed(self.up):
            h = lvl.run_blocks(h)
            if hasattr(lvl, "upsample"):
                h = lvl.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    """Encoder/decoder pair plus the latent scaling COP-GEN uses (diffusion units = z * scale)."""

    def __init__(self, config: VAEConfig, scale_factor: float = 1.0) -> None:
        super().__init__()
        self.config = config
        self.scale_factor = float(scale_factor)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        zc = config.z_channels
        embed_dim = zc  # official get_model sets embed_dim = z_channels
        self.quant_conv = nn.Conv2d(2 * zc, 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, zc, 1)

    @classmethod
    def from_ddconfig(cls, ddconfig: Mapping[str, Any], scale_factor: float) -> AutoencoderKL:
        return cls(VAEConfig.from_ddconfig(ddconfig), scale_factor)

    def encode_moments(self, x: Tensor) -> Tensor:
        """(B, 2z, h, w): mean then (unclamped) logvar."""
        return self.quant_conv(self.encoder(x))

    def sample(self, moments: Tensor, noise: Tensor | None = None) -> Tensor:
        """Posterior sample in diffusion units; zero noise gives scale_factor * mean."""
        mean, logvar = torch.chunk(moments, 2, dim=1)
        logvar = torch.clamp(logvar, LOGVAR_MIN, LOGVAR_MAX)
        if noise is None:
            noise = torch.randn_like(mean)
        return self.scale_factor * (mean + torch.exp(0.5 * logvar) * noise)

    def encode(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        return self.sample(self.encode_moments(x), noise)

    def decode(self, z: Tensor) -> Tensor:
        """Latent in diffusion units -> image in the network space (multiplies by 1/scale)."""
        return self.decoder(self.post_quant_conv(z * (1.0 / self.scale_factor)))
