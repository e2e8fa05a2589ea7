"""Per-modality tokenizers: the VAE encoder/decoder graphs and the posterior formula.

The encoder graph returns the 2z "moments" (mean, then unclamped log-variance); the latent is
``scale_factor * (mean + exp(0.5 * clamp(logvar, -30, 20)) * eps)`` (COPGEN_REFERENCE.md 2.4).
The official inference draws eps (a posterior sample); the engine defaults to eps = 0, the
posterior mean, so a condition maps to one deterministic latent. The decoder graph takes
diffusion-unit latents (it divides by the scale factor itself). Scalars have no tokenizer.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .modalities import ModalitySpec
from .runtime import OnnxModel

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def posterior_latent(
    moments: np.ndarray, scale_factor: float, eps: np.ndarray | None = None
) -> np.ndarray:
    """Moments (B, 2z, h, w) -> diffusion latent (B, z, h, w); eps None = posterior mean."""
    moments = np.asarray(moments, dtype=np.float32)
    z = moments.shape[1] // 2
    mean = moments[:, :z]
    if eps is None:
        return (np.float32(scale_factor) * mean).astype(np.float32)
    logvar = np.clip(moments[:, z:], np.float32(LOGVAR_MIN), np.float32(LOGVAR_MAX))
    std = np.exp(np.float32(0.5) * logvar)
    return (np.float32(scale_factor) * (mean + std * np.asarray(eps, np.float32))).astype(
        np.float32
    )


class Tokenizer:
    """Encode network-space images to latents and decode latents back, for one modality."""

    def __init__(self, spec: ModalitySpec, encoder: OnnxModel, decoder: OnnxModel) -> None:
        if not spec.is_image or spec.scale_factor is None:
            raise InputError(f"{spec.key} is a scalar modality: it has no tokenizer")
        self.spec = spec
        self.encoder = encoder
        self.decoder = decoder
        c_lat = spec.latent_shape[0]
        encoder.check_interface({"image": spec.image_shape},
                                {"moments": (2 * c_lat, *spec.latent_shape[1:])})
        decoder.check_interface({"latent": spec.latent_shape}, {"image": spec.image_shape})

    def moments(self, image: np.ndarray) -> np.ndarray:
        """(B, C_img, H, W) network-space image -> (B, 2z, h, w) moments."""
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.shape[1:] != self.spec.image_shape:
            raise InputError(f"{self.spec.key}: encoder input {image.shape[1:]}, expected "
                             f"{self.spec.image_shape}")
        (out,) = self.encoder.run({"image": image})
        return out

    def encode(self, image: np.ndarray, eps: np.ndarray | None = None) -> np.ndarray:
        """Image -> diffusion latent (posterior mean, or a sample when eps is given)."""
        assert self.spec.scale_factor is not None
        return posterior_latent(self.moments(image), self.spec.scale_factor, eps)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """(B, z, h, w) diffusion latent -> (B, C_img, H, W) network-space image."""
        (out,) = self.decoder.run({"latent": np.ascontiguousarray(latent, dtype=np.float32)})
        return out
