"""The COP-GEN U-ViT denoiser (official ``copgen_multi_post_ln`` layout), written from the spec.

Module and parameter names mirror the official checkpoint keys (``pos_embed``,
``patch_embeds.i.proj``, ``in_blocks.k``, ``mid_block``, ``out_blocks.k``, ``norm``,
``decoder_preds.i``) so that ``500000_nnet_ema.pth`` loads with ``strict=True`` and no renaming.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from models.configs import BackboneConfig

LAYERNORM_EPS = 1e-5  # torch default, as in the official blocks; 1e-6 breaks parity


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding [cos(t f), sin(t f)] (cos first), f_j = 10000^(-j/half), float32."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens, row-major (token index r * w/p + c)."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention; qkv split as (3, heads, head_dim), q first."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, Dh)
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(head_dim)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    """Post-LayerNorm transformer block; out blocks first fuse the long skip."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool,
                 skip: bool = False) -> None:
        super().__init__()
        if skip:
            self.skip_linear = nn.Linear(2 * dim, dim)
            self.norm1 = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        else:
            self.skip_linear = None
            self.norm1 = None
        self.norm2 = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm3 = nn.LayerNorm(dim, eps=LAYERNORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        if self.skip_linear is not None and self.norm1 is not None:
            x = self.norm1(self.skip_linear(torch.cat([x, skip], dim=-1)))
        x = self.norm2(x + self.attn(x))
        return self.norm3(x + self.mlp(x))


class CopgenUViT(nn.Module):
    """Multimodal U-ViT: one timestep token + patch tokens per modality, long skips, eps heads.

    ``forward(latents, timesteps)`` takes two lists in network order (``config.keys``):
    latents (B, C, h, w) and timesteps (B,) on the 0..1000 scale; it returns eps per modality.
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        d = config.embed_dim
        if d % config.num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.patch_embeds = nn.ModuleList(
            PatchEmbed(c, d, p) for _, c, _, _, p in config.modalities
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, config.num_tokens, d))
        half = config.depth // 2  # official: an odd depth drops a block the same way
        self.in_blocks = nn.ModuleList(
            Block(d, config.num_heads, config.mlp_ratio, config.qkv_bias) for _ in range(half)
        )
        self.mid_block = Block(d, config.num_heads, config.mlp_ratio, config.qkv_bias)
        self.out_blocks = nn.ModuleList(
            Block(d, config.num_heads, config.mlp_ratio, config.qkv_bias, skip=True)
            for _ in range(half)
        )
        self.norm = nn.LayerNorm(d, eps=LAYERNORM_EPS)
        self.decoder_preds = nn.ModuleList(
            nn.Linear(d, p * p * c) for _, c, _, _, p in config.modalities
        )
        self._token_counts = [(h // p) * (w // p) for _, _, h, w, p in config.modalities]

    @classmethod
    def from_official_kwargs(cls, kwargs: Mapping[str, Any]) -> CopgenUViT:
        return cls(BackboneConfig.from_official_kwargs(kwargs))

    def _unpatchify(self, tokens: Tensor, index: int) -> Tensor:
        """Token vectors ordered (p1, p2, C), C fastest -> (B, C, h, w)."""
        _, c, h, w, p = self.config.modalities[index]
        b = tokens.shape[0]
        x = tokens.reshape(b, h // p, w // p, p, p, c)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, h, w)

    def forward(self, latents: Sequence[Tensor], timesteps: Sequence[Tensor]) -> list[Tensor]:
        n = len(self.config.modalities)
        if len(latents) != n or len(timesteps) != n:
            raise ValueError(f"expected {n} latents and {n} timesteps (network order)")
        d = self.config.embed_dim
        dtype = self.pos_embed.dtype  # float16 when exported for GPU; the embedding is fp32
        time_tokens = [timestep_embedding(t, d).to(dtype).unsqueeze(1) for t in timesteps]
        patch_tokens = [emb(z) for emb, z in zip(self.patch_embeds, latents, strict=True)]
        x = torch.cat(time_tokens + patch_tokens, dim=1) + self.pos_embed

        skips = []
        for blk in self.in_blocks:
            x = blk(x)
            skips.append(x)
        x = self.mid_block(x)
        for blk in self.out_blocks:
            x = blk(x, skips.pop())
        x = self.norm(x)

        groups = torch.split(x[:, n:], self._token_counts, dim=1)
        return [self._unpatchify(head(g), i)
                for i, (head, g) in enumerate(zip(self.decoder_preds, groups, strict=True))]


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
