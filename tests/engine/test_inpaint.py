"""Inpainting: latent masks never include gap pixels; observed latents are held, gaps vary."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from copgen_plugin.engine.inpaint import latent_observed_mask
from copgen_plugin.engine.modalities import normalise
from copgen_plugin.engine.requests import GenerationRequest, PartialObservation
from copgen_plugin.errors import InputError

KEY = "S2L2A_B02_B03_B04_B08"


def test_one_gap_pixel_releases_its_cell_and_the_margin():
    observed = np.ones((192, 192), bool)
    observed[100, 50] = False  # latent cell (12, 6)
    cells = latent_observed_mask(observed, (24, 24), margin=1)
    assert cells.sum() == 24 * 24 - 9
    assert not cells[11:14, 5:8].any() and cells[10, 6] and cells[12, 8]
    assert latent_observed_mask(observed, (24, 24), margin=0).sum() == 24 * 24 - 1
    assert latent_observed_mask(observed, (24, 24), margin=2).sum() == 24 * 24 - 25


def test_gap_at_the_edge_and_full_observation():
    observed = np.ones((64, 64), bool)
    assert latent_observed_mask(observed, (8, 8)).all()
    observed[:, :3] = False  # touches the first latent column only
    cells = latent_observed_mask(observed, (8, 8), margin=1)
    assert not cells[:, :2].any() and cells[:, 2:].all()


def test_no_held_cell_covers_a_gap_pixel_even_with_random_gaps():
    rng = np.random.default_rng(3)
    observed = rng.random((96, 96)) > 0.002
    cells = latent_observed_mask(observed, (12, 12), margin=1)
    assert 0 < cells.sum() < cells.size
    pixels = np.kron(cells, np.ones((8, 8), bool))  # pixels covered by held cells
    grown = np.zeros_like(pixels)
    for dy in (-8, 0, 8):  # a held cell's neighbours must be clean too
        for dx in (-8, 0, 8):
            grown |= np.roll(np.roll(pixels, dy, 0), dx, 1)
    assert not (pixels & ~observed).any()
    interior = np.zeros_like(pixels)
    interior[8:-8, 8:-8] = True
    assert not (grown & ~observed & interior).any()


def test_mask_that_does_not_tile_the_latent_grid_is_rejected():
    with pytest.raises(InputError, match="does not tile"):
        latent_observed_mask(np.ones((190, 192), bool), (24, 24))


@pytest.fixture(scope="module")
def gap_case(engine):
    rng = np.random.default_rng(0)
    values = rng.integers(200, 3000, (4, 192, 192)).astype(np.uint16)
    observed = np.ones((192, 192), bool)
    observed[64:128, 96:160] = False
    values[:, ~observed] = 0  # nodata under the gap

    def run(seed: int):
        return engine.generate(GenerationRequest(
            partial={KEY: PartialObservation(values, observed)},
            conditions={"3d_cartesian_lat_lon": (-3.4, 34.07),
                        "mean_timestamps": dt.date(2020, 3, 1)},
            n_samples=2, steps=6, seed=seed))

    return values, observed, run(1), run(2)


def test_observed_latent_is_reproduced_and_the_gap_varies(engine, gap_case):
    values, observed, first, second = gap_case
    held = first.latent_held[KEY]
    assert held.sum() == 24 * 24 - 10 * 10  # 8x8 gap cells plus a one-cell margin
    # the observation's own latent (gap filled with the observed mean before encoding)
    x = normalise(engine.package.spec(KEY), values)
    for c in range(x.shape[0]):
        x[c][~observed] = x[c][observed].mean()
    z_obs = engine.tokenizer(KEY).encode(x[None])[0]
    for result in (first, second):
        z = result.latents[KEY]
        expected = np.broadcast_to(z_obs[:, held], z[:, :, held].shape)
        np.testing.assert_array_equal(z[:, :, held], expected)
    gap_first, gap_second = first.latents[KEY][:, :, ~held], second.latents[KEY][:, :, ~held]
    assert np.abs(gap_first - gap_second).mean() > 0.1  # seeds differ in the gap
    assert np.abs(gap_first[0] - gap_first[1]).mean() > 0.1  # and so do samples


def test_observed_pixels_are_kept_and_spread_is_only_in_the_gap(gap_case):
    values, observed, first, _ = gap_case
    samples = first.samples[KEY]
    kept = np.broadcast_to(values[:, observed], samples[:, :, observed].shape)
    np.testing.assert_array_equal(samples[:, :, observed], kept)
    np.testing.assert_array_equal(first.generated[KEY], ~observed)
    spread = samples.astype(np.float64).std(axis=0, ddof=1)
    assert not spread[:, observed].any() and spread[:, ~observed].mean() > 0


def test_one_observation_per_sample_is_held_per_sample(engine):
    """Per-sample observations (a neighbour footprint's overlap) continue each sample."""
    rng = np.random.default_rng(4)
    values = rng.integers(200, 3000, (3, 4, 192, 192)).astype(np.uint16)
    observed = np.zeros((192, 192), bool)
    observed[:, :64] = True  # the overlap strip on the left
    result = engine.generate(GenerationRequest(
        partial={KEY: PartialObservation(values, observed)}, n_samples=3, steps=4, seed=5,
        batch_size=2))
    held = result.latent_held[KEY]
    assert held[:, :7].all() and not held[:, 7:].any()  # 8 cells observed, minus the margin
    z = result.latents[KEY]
    for i in range(3):
        x = normalise(engine.package.spec(KEY), values[i])
        for c in range(4):
            x[c][~observed] = x[c][observed].mean()
        z_obs = engine.tokenizer(KEY).encode(x[None])[0]  # batch 1 here, batch 3 in generate
        np.testing.assert_allclose(z[i][:, held], z_obs[:, held], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(result.samples[KEY][i][:, observed],
                                      values[i][:, observed].astype(np.float32))
    assert np.abs(z[0][:, held] - z[1][:, held]).mean() > 0.01


def test_per_sample_observations_must_match_n_samples(engine):
    values = np.zeros((2, 4, 192, 192), np.uint16)
    with pytest.raises(InputError, match="n_samples"):
        engine.generate(GenerationRequest(
            partial={KEY: PartialObservation(values, np.ones((192, 192), bool))}, n_samples=3))
