"""Tokenizer: the posterior formula against the official VAE cases, and the ONNX round trip."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.engine.tokenizer import posterior_latent
from tests.engine.helpers import ORDER


@pytest.mark.parametrize("key", [k for k in ORDER if k not in ("3d_cartesian_lat_lon",
                                                               "mean_timestamps")])
def test_posterior_formulas_match_the_official_vae(cases, table, key):
    sf = table.spec(key).scale_factor
    moments = cases[f"vae__moments__{key}"]
    np.testing.assert_array_equal(posterior_latent(moments, sf), cases[f"vae__zmean__{key}"])
    np.testing.assert_allclose(posterior_latent(moments, sf, cases[f"vae__eps__{key}"]),
                               cases[f"vae__zsample__{key}"], rtol=0, atol=5e-6)


def test_posterior_clamps_the_log_variance(cases, table):
    sf = table.spec("S2L2A_B02_B03_B04_B08").scale_factor
    z = posterior_latent(cases["vae_clamp__moments"], sf, cases["vae_clamp__eps"])
    np.testing.assert_allclose(z, cases["vae_clamp__z"], rtol=1e-6, atol=5e-6)


def test_tokenizer_encodes_the_posterior_mean_of_its_graph(engine):
    tok = engine.tokenizer("DEM_DEM")
    image = np.random.default_rng(1).uniform(-1, 1, (2, 1, 64, 64)).astype(np.float32)
    moments = tok.moments(image)
    assert moments.shape == (2, 16, 8, 8)
    np.testing.assert_array_equal(tok.encode(image), posterior_latent(moments, 0.404247))
    decoded = tok.decode(tok.encode(image))
    assert decoded.shape == image.shape and np.isfinite(decoded).all()
