"""COP-GEN modality table and model sizes (COPGEN_REFERENCE.md sections 1-3).

Everything that is indexed in the network (patch embeddings, output heads, positional table,
latent flattening) follows ``network_order``: the ASCII-sorted modality keys. The official
configs list the keys in another order, and ``ml_collections`` silently sorts them, so this module
never trusts insertion order: :func:`network_order` always sorts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FOOTPRINT_M = 1920
LATENT_CHANNELS = 8

LULC_CODES = [0, 1, 2, 4, 5, 7, 8, 9, 10, 11]
LULC_NAMES = [
    "No data",
    "Water",
    "Trees",
    "Flooded vegetation",
    "Crops",
    "Built-up areas",
    "Bare ground",
    "Snow/Ice",
    "Clouds",
    "Rangeland",
]
CLOUD_CODES = [0, 1, 2, 3]
CLOUD_NAMES = ["Clear", "Thick cloud", "Thin cloud", "Cloud shadow"]


@dataclass(frozen=True)
class ModalityConfig:
    """One COP-GEN modality: what the network sees and how to get there from raw data."""

    key: str
    kind: str  # "image" or "scalar"
    family: str
    bands: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (C, H, W) of the pre-processed network input
    latent_shape: tuple[int, int, int]  # (C, h, w) fed to the denoiser
    normalisation: Mapping[str, Any]
    pixel_size_m: float | None = None
    scale_factor: float | None = None
    vae_folder: str | None = None
    patch: int | None = None  # the official ``patch_size`` per modality; None = the default

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @property
    def patch_size(self) -> int:
        """Backbone patch size: 2 for image latents, 1 for the two 3-vector scalars (COP-GEN's),
        unless ``patch`` says otherwise (the demo's factor-2 S2 latent takes 4)."""
        if self.patch is not None:
            return self.patch
        return 2 if self.is_image else 1

    @property
    def in_chans(self) -> int:
        return self.latent_shape[0]

    @property
    def num_tokens(self) -> int:
        _, h, w = self.latent_shape
        return (h // self.patch_size) * (w // self.patch_size)


def _s2(key: str, family: str, bands: tuple[str, ...], size: int, px: float, sf: float,
        folder: str) -> ModalityConfig:
    lat = size // 8
    return ModalityConfig(
        key=key, kind="image", family=family, bands=bands, image_shape=(len(bands), size, size),
        latent_shape=(LATENT_CHANNELS, lat, lat), pixel_size_m=px, scale_factor=sf,
        normalisation={"kind": "reflectance", "scale": 10000.0}, vae_folder=folder,
    )


_ALL_SPECS: list[ModalityConfig] = [
    ModalityConfig(
        key="3d_cartesian_lat_lon", kind="scalar", family="lat_lon", bands=("x", "y", "z"),
        image_shape=(1, 1, 3), latent_shape=(1, 1, 3), normalisation={"kind": "latlon_xyz"},
    ),
    ModalityConfig(
        key="DEM_DEM", kind="image", family="DEM", bands=("DEM",), image_shape=(1, 64, 64),
        latent_shape=(LATENT_CHANNELS, 8, 8), pixel_size_m=30.0, scale_factor=0.404247,
        normalisation={"kind": "log1p_minmax", "min_db": 0.000006, "max_db": 9.088,
                       "min_positive": 5.899129519093549e-06},
        vae_folder="DEM_64x64_DEM_latent_8",
    ),
    ModalityConfig(
        key="LULC_LULC", kind="image", family="LULC", bands=("LULC",),
        image_shape=(10, 192, 192), latent_shape=(LATENT_CHANNELS, 24, 24), pixel_size_m=10.0,
        scale_factor=0.464794,
        normalisation={"kind": "onehot", "codes": LULC_CODES, "names": LULC_NAMES},
        vae_folder="LULC_192x192_LULC_latent_8",
    ),
    ModalityConfig(
        key="S1RTC_vh_vv", kind="image", family="S1RTC", bands=("vv", "vh"),
        image_shape=(2, 192, 192), latent_shape=(LATENT_CHANNELS, 24, 24), pixel_size_m=10.0,
        scale_factor=0.633804,
        normalisation={"kind": "log_db_minmax", "min_db": -55.787186, "max_db": 40.2258,
                       "min_positive": 2.6380407689430285e-06},
        vae_folder="S1RTC_192x192_VV_VH_latent_8",
    ),
    _s2("S2L1C_B01_B09_B10", "S2L1C", ("B01", "B09", "B10"), 32, 60.0, 0.565812,
        "S2L1C_32x32_B1_9_10_latent_8"),
    _s2("S2L1C_B02_B03_B04_B08", "S2L1C", ("B04", "B03", "B02", "B08"), 192, 10.0, 0.772514,
        "S2L1C_192x192_B4_3_2_8_latent_8"),
    _s2("S2L1C_B05_B06_B07_B11_B12_B8A", "S2L1C", ("B05", "B06", "B07", "B8A", "B11", "B12"),
        96, 20.0, 0.765817, "S2L1C_96x96_B5_6_7_8A_11_12_latent_8"),
    ModalityConfig(
        key="S2L1C_cloud_mask", kind="image", family="cloud_mask", bands=("cloud_mask",),
        image_shape=(4, 192, 192), latent_shape=(LATENT_CHANNELS, 24, 24), pixel_size_m=10.0,
        scale_factor=0.557045,
        normalisation={"kind": "onehot", "codes": CLOUD_CODES, "names": CLOUD_NAMES},
        vae_folder="S2L1C_192x192_cloud_mask_latent_8",
    ),
    _s2("S2L2A_B01_B09", "S2L2A", ("B01", "B09"), 32, 60.0, 0.571367,
        "S2L2A_32x32_B1_9_latent_8"),
    _s2("S2L2A_B02_B03_B04_B08", "S2L2A", ("B04", "B03", "B02", "B08"), 192, 10.0, 0.853416,
        "S2L2A_192x192_B4_3_2_8_latent_8"),
    _s2("S2L2A_B05_B06_B07_B11_B12_B8A", "S2L2A", ("B05", "B06", "B07", "B8A", "B11", "B12"),
        96, 20.0, 0.567267, "S2L2A_96x96_B5_6_7_8A_11_12_latent_8"),
    ModalityConfig(
        key="mean_timestamps", kind="scalar", family="timestamps",
        bands=("sin_doy", "cos_doy", "year"), image_shape=(1, 1, 3), latent_shape=(1, 1, 3),
        normalisation={"kind": "date_sincos_year", "year_min": 1950, "year_max": 2050},
    ),
]

MODALITIES: dict[str, ModalityConfig] = {s.key: s for s in _ALL_SPECS}


def network_order(keys: Iterable[str]) -> list[str]:
    """The order the network indexes modalities in: ASCII sort of the keys (never config order)."""
    return sorted(keys)


ALL_KEYS: list[str] = network_order(MODALITIES)
IMAGE_KEYS: list[str] = [k for k in ALL_KEYS if MODALITIES[k].is_image]


def select_modalities(keys: Iterable[str] | None) -> list[ModalityConfig]:
    """Specs for ``keys`` (all 12 when None) in network order; unknown keys are an error."""
    chosen = ALL_KEYS if keys is None else network_order(set(keys))
    unknown = [k for k in chosen if k not in MODALITIES]
    if unknown:
        raise ValueError(f"unknown modality keys {unknown}; known: {ALL_KEYS}")
    if not chosen:
        raise ValueError("at least one modality is needed")
    return [MODALITIES[k] for k in chosen]


@dataclass(frozen=True)
class BackboneConfig:
    """Constructor arguments of the U-ViT denoiser (official ``copgen_multi_post_ln``)."""

    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    # (key, in_chans, latent height, latent width, patch size), in network order
    modalities: tuple[tuple[str, int, int, int, int], ...] = field(default_factory=tuple)

    @property
    def keys(self) -> list[str]:
        return [m[0] for m in self.modalities]

    @property
    def num_tokens(self) -> int:
        return len(self.modalities) + sum((h // p) * (w // p) for _, _, h, w, p in self.modalities)

    @classmethod
    def for_modalities(cls, specs: Iterable[ModalityConfig], embed_dim: int, depth: int,
                       num_heads: int, mlp_ratio: float = 4.0,
                       qkv_bias: bool = False) -> BackboneConfig:
        by_key = {s.key: s for s in specs}
        mods = tuple(
            (k, by_key[k].in_chans, by_key[k].latent_shape[1], by_key[k].latent_shape[2],
             by_key[k].patch_size)
            for k in network_order(by_key)
        )
        return cls(embed_dim, depth, num_heads, mlp_ratio, qkv_bias, mods)

    @classmethod
    def from_official_kwargs(cls, kwargs: Mapping[str, Any]) -> BackboneConfig:
        """Build from the official constructor kwargs (``config.nnet``, parity kit JSON)."""
        if kwargs.get("mlp_time_embed", False):
            raise NotImplementedError("mlp_time_embed=True is not part of COP-GEN")
        img_sizes = kwargs["img_sizes"]
        patch = kwargs["patch_size"]
        chans = kwargs["in_chans"]
        res = {
            k: tuple(v.get("latent_input_resolution", (img_sizes[k], img_sizes[k])))
            for k, v in kwargs.get("modalities", {}).items()
        }
        for k in img_sizes:
            if k not in res and k in MODALITIES:
                res[k] = MODALITIES[k].latent_shape[1:]
        mods = []
        for k in network_order(img_sizes):
            h, w = res.get(k, (img_sizes[k], img_sizes[k]))
            mods.append((k, int(chans[k]), int(h), int(w), int(patch[k])))
        return cls(
            embed_dim=int(kwargs["embed_dim"]), depth=int(kwargs["depth"]),
            num_heads=int(kwargs["num_heads"]), mlp_ratio=float(kwargs.get("mlp_ratio", 4.0)),
            qkv_bias=bool(kwargs.get("qkv_bias", False)), modalities=tuple(mods),
        )


@dataclass(frozen=True)
class VAEConfig:
    """The official ``ddconfig`` of one KL autoencoder."""

    in_channels: int
    resolution: int
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = LATENT_CHANNELS
    double_z: bool = True
    attn_resolutions: tuple[int, ...] = ()
    dropout: float = 0.0
    out_ch: int | None = None

    @property
    def out_channels(self) -> int:
        return self.in_channels if self.out_ch is None else self.out_ch

    @classmethod
    def from_ddconfig(cls, dd: Mapping[str, Any]) -> VAEConfig:
        return cls(
            in_channels=int(dd["in_channels"]), resolution=int(dd["resolution"]),
            ch=int(dd["ch"]), ch_mult=tuple(int(m) for m in dd["ch_mult"]),
            num_res_blocks=int(dd["num_res_blocks"]), z_channels=int(dd["z_channels"]),
            double_z=bool(dd.get("double_z", True)),
            attn_resolutions=tuple(int(r) for r in dd.get("attn_resolutions", ())),
            dropout=float(dd.get("dropout", 0.0)), out_ch=int(dd.get("out_ch", dd["in_channels"])),
        )


@dataclass(frozen=True)
class ModelSize:
    """A named size: backbone width/depth/heads plus the VAE tree that goes with it."""

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    vae_ch: int
    vae_ch_mult: tuple[int, ...]
    vae_num_res_blocks: int

    def backbone(self, specs: Iterable[ModalityConfig]) -> BackboneConfig:
        return BackboneConfig.for_modalities(specs, self.embed_dim, self.depth, self.num_heads)

    def vae(self, spec: ModalityConfig) -> VAEConfig:
        return VAEConfig(
            in_channels=spec.image_shape[0], resolution=spec.image_shape[1], ch=self.vae_ch,
            ch_mult=self.vae_ch_mult, num_res_blocks=self.vae_num_res_blocks,
        )


_OFFICIAL_VAE = {"vae_ch": 128, "vae_ch_mult": (1, 2, 4, 4), "vae_num_res_blocks": 2}
SIZES: dict[str, ModelSize] = {
    "base": ModelSize("base", 1024, 20, 16, **_OFFICIAL_VAE),
    "large": ModelSize("large", 1152, 28, 16, **_OFFICIAL_VAE),
    "huge": ModelSize("huge", 1536, 30, 24, **_OFFICIAL_VAE),
    # the parity kit's tiny tree: smallest VAE that keeps GroupNorm(32) and the factor 8
    "tiny": ModelSize("tiny", 64, 4, 4, vae_ch=32, vae_ch_mult=(1, 1, 1, 1),
                      vae_num_res_blocks=1),
}

BASE_PARAMETERS = 286_986_562


def get_size(name: str) -> ModelSize:
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(SIZES)}") from None
