"""The demo training recipe's departures from the official one do what they claim."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.configs import BackboneConfig  # noqa: E402
from models.demo import data as dm  # noqa: E402
from models.demo import recipe  # noqa: E402


def test_noisy_modalities_keeps_one_noised_and_the_official_share() -> None:
    rng = np.random.default_rng(0)
    noisy = recipe.noisy_modalities(rng, 20_000, 4, clean_frac=0.5)
    assert noisy.dtype == np.int64 and set(np.unique(noisy)) == {0, 1}
    assert (noisy.sum(axis=1) >= 1).all()  # never a sample with nothing to learn
    has_clean = (noisy == 0).any(axis=1)
    # half the rows draw a subset of k = 1..4 noised modalities; k = 4 leaves none clean
    assert has_clean.mean() == pytest.approx(0.5 * 3 / 4, abs=0.02)
    # every modality is held clean about as often as the others
    per_mod = (noisy == 0).mean(axis=0)
    assert per_mod.max() - per_mod.min() < 0.02
    assert (recipe.noisy_modalities(rng, 100, 4, clean_frac=0.0) == 1).all()  # official recipe


def test_masked_mse_ignores_clean_samples_and_weights_the_others() -> None:
    pred = torch.zeros(3, 2, 4, 4)
    eps = torch.stack([torch.full((2, 4, 4), v) for v in (1.0, 2.0, 100.0)])
    weight = torch.tensor([1.0, 3.0, 0.0])  # third sample held clean: its error must not count
    assert recipe.masked_mse(pred, eps, weight).item() == pytest.approx((1.0 + 3.0 * 4.0) / 2)
    assert recipe.masked_mse(pred, eps, torch.zeros(3)).item() == 0.0


def test_spatial_pos_embed_aligns_tokens_over_the_same_ground() -> None:
    specs = dm.demo_specs()
    bcfg = BackboneConfig.for_modalities(specs.values(), 64, 2, 4)
    pe = recipe.spatial_pos_embed(bcfg)[0].numpy()
    assert pe.shape == (bcfg.num_tokens, 64)
    n = len(bcfg.modalities)
    assert not pe[:n].any()  # timestep tokens carry no position
    starts = np.cumsum([n] + [(h // p) * (w // p) for _, _, h, w, p in bcfg.modalities])
    grids = {k: pe[starts[i]:starts[i + 1]] for i, k in enumerate(bcfg.keys)}
    s2, s1, dem = grids[dm.S2_KEY], grids[dm.S1_KEY], grids[dm.DEM_KEY]
    np.testing.assert_array_equal(s2, s1)  # same grid, same codes
    # DEM token (0, 0) covers S2 tokens rows/cols 0..2: its code is nearest to their centre
    side = int(np.sqrt(len(s2)))
    centre = s2.reshape(side, side, -1)[1, 1]
    dist = np.linalg.norm(s2 - dem[0], axis=1)
    assert np.argmin(dist) == side + 1
    assert np.linalg.norm(dem[0] - centre) < np.linalg.norm(dem[0] - dem[-1])


# -- recipe 2 (issue 19): the S2 tokenizer's shape, its edge term, resumable stages -----------

from models.autoencoder import AutoencoderKL  # noqa: E402
from models.checkpoints import load_file  # noqa: E402
from models.demo import config as dc  # noqa: E402
from models.demo import tokenizers as tk  # noqa: E402


@pytest.mark.parametrize(("channels", "factor"), [(16, 4), (8, 2)])
def test_s2_latent_shape_follows_the_config(channels: int, factor: int) -> None:
    cfg = dc.TrainConfig(s2_z_channels=channels, s2_factor=factor)
    specs = cfg.specs()
    assert specs[dm.S2_KEY].latent_shape == (channels, 48 // factor, 48 // factor)
    assert specs[dm.S1_KEY].latent_shape == (8, 12, 12)  # the other tokenizers keep recipe 1's
    vae = AutoencoderKL(tk.vae_config(specs[dm.S2_KEY], cfg))
    with torch.no_grad():
        moments = vae.encode_moments(torch.zeros(1, 4, 48, 48))
        image = vae.decoder(vae.post_quant_conv(moments[:, :channels]))
    assert moments.shape == (1, 2 * channels, 48 // factor, 48 // factor)
    assert image.shape == (1, 4, 48, 48)
    # a finer latent gets a larger patch: the denoiser keeps recipe 1's 116 tokens
    bcfg = BackboneConfig.for_modalities(specs.values(), 64, 2, 4)
    assert bcfg.num_tokens == 116
    s2 = dict((m[0], m) for m in bcfg.modalities)[dm.S2_KEY]
    assert s2[1:] == (channels, 48 // factor, 48 // factor, 8 // factor)


def test_recipe_1_is_unchanged() -> None:
    cfg = dc.RECIPES[1]
    assert cfg == dc.TrainConfig() and cfg.latents() == {}
    assert tk.vae_config(cfg.specs()[dm.S2_KEY], cfg).ch_mult == (1, 1, 1)


def test_edge_term_charges_a_blur_not_an_offset() -> None:
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 4, 16, 16)).astype("f4"))
    assert tk.edge_l1(x + 0.5, x).item() == pytest.approx(0.0, abs=1e-6)
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    assert tk.edge_l1(blurred, x).item() > 0.5


def test_a_resumed_tokenizer_stage_ends_where_an_uninterrupted_one_does(tmp_path) -> None:
    torch.set_num_threads(1)
    cfg = dc.TrainConfig(vae_steps_dem=4, vae_batch=2, vae_ch=32)
    specs = cfg.specs()
    data = dm.build_dataset(range(4), specs)
    whole = tk.train_vae(dm.DEM_KEY, specs[dm.DEM_KEY], data, cfg)

    class StopError(Exception):
        pass

    def stop_at_two(step: int, vae: AutoencoderKL) -> None:
        if step == 2:
            raise StopError

    ckpt = tmp_path / "vae.partial.pt"
    with pytest.raises(StopError):
        tk.train_vae(dm.DEM_KEY, specs[dm.DEM_KEY], data, cfg, ckpt, stop_at_two, every=2,
                        save_every=2)
    assert load_file(ckpt)["step"] == 2
    resumed = tk.train_vae(dm.DEM_KEY, specs[dm.DEM_KEY], data, cfg, ckpt, save_every=2)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_a_workdir_refuses_another_recipe(tmp_path) -> None:
    dc.check_workdir(dc.RECIPES[2], tmp_path)
    dc.check_workdir(dataclasses.replace(dc.RECIPES[2], threads=2), tmp_path)  # speed only
    with pytest.raises(SystemExit, match="s2_factor"):
        dc.check_workdir(dc.RECIPES[1], tmp_path)
    longer = dataclasses.replace(dc.RECIPES[2], denoiser_steps=12000)
    dc.check_workdir(longer, tmp_path)  # no denoiser checkpoint yet: still open
    (tmp_path / "denoiser.pt").write_bytes(b"")
    with pytest.raises(SystemExit, match="denoiser_steps"):
        dc.check_workdir(dc.RECIPES[2], tmp_path)


def test_a_token_must_fit_through_embed_dim() -> None:
    # recipe 3's S2 tokens (4 x 4 patches of 16 channels) lost half the latent in 120 dims
    with pytest.raises(SystemExit, match=r"4 x 4 x 16 = 256 latent values, more than "
                                         r"embed_dim 120"):
        dc.check_token_width(dc.RECIPES[3])
    dc.check_token_width(dc.RECIPES[1])
    cfg = dc.RECIPES[4]
    dc.check_token_width(cfg)
    bcfg = BackboneConfig.for_modalities(cfg.specs().values(), cfg.embed_dim, 1, 4)
    s2 = dict((m[0], m) for m in bcfg.modalities)[dm.S2_KEY]
    assert s2[1:] == (16, 24, 24, 2) and bcfg.num_tokens == 224  # 144 S2 tokens of 64 values
