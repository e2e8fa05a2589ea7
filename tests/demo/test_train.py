"""The demo training recipe's departures from the official one do what they claim."""

from __future__ import annotations

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
