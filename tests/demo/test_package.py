"""The committed demo package: says it is a demo, fits the size limit, and fills a real gap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from copgen_plugin.engine import CopgenEngine, GenerationRequest, PartialObservation
from copgen_plugin.engine.package import load_package
from models.demo.data import DEM_KEY, DEMO_KEYS, FOOTPRINT_M, LULC_KEY, S1_KEY, S2_KEY

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SCENE = REPO / "resources" / "demo"
MAX_BYTES = 20 * 1024 * 1024
# one 480 m footprint of the sample scene, half of it cloud gap (30 m aligned)
ROW, COL, SIZE = 69, 54, 48


def test_manifest_says_demo() -> None:
    m = json.loads((PACKAGE / "manifest.json").read_text())
    assert m["demo"] is True and m["model_id"] == "copgen-demo"
    assert "demo" in m["title"] and "not COP-GEN's weights" in m["title"]
    assert m["licence"] == "GPL-2.0-or-later" and "synthetic" in m["source"]
    assert m["network_order"] == list(DEMO_KEYS)
    assert m["footprint_m"] == FOOTPRINT_M
    for key in DEMO_KEYS:
        mod = m["modalities"][key]
        assert mod["image_shape"][1] * mod["pixel_size_m"] == FOOTPRINT_M, key
        assert mod["latent_shape"][1] * 4 == mod["image_shape"][1], key  # recipe 1's
        assert 0.05 < mod["scale_factor"] < 20, key
    assert "not COP-GEN" in (PACKAGE / "README.md").read_text()


def test_size_limit() -> None:
    total = sum(p.stat().st_size for p in PACKAGE.iterdir() if p.is_file())
    assert total <= MAX_BYTES


def test_hashes_verify() -> None:
    pkg = load_package(PACKAGE, verify="full")
    assert pkg.demo and pkg.footprint_m == FOOTPRINT_M


def _window(name: str, factor: int = 1) -> np.ndarray:
    with rasterio.open(SCENE / name) as src:
        return src.read(window=Window(COL // factor, ROW // factor, SIZE // factor,
                                      SIZE // factor))


@pytest.fixture(scope="module")
def engine() -> CopgenEngine:
    return CopgenEngine.open(PACKAGE)


def test_gap_fill_of_the_sample_scene(engine: CopgenEngine) -> None:
    s2 = _window("s2l2a.tif").astype(np.float32)
    observed = (s2 != 0).all(axis=0)
    assert 0.2 < (~observed).mean() < 0.8  # the footprint really holds a gap
    conditions = {DEM_KEY: _window("dem.tif", 3), S1_KEY: _window("s1rtc.tif"),
                  LULC_KEY: _window("lulc.tif").astype(np.int64)}
    req = GenerationRequest(targets=(S2_KEY,), conditions=conditions,
                            partial={S2_KEY: PartialObservation(s2, observed)},
                            n_samples=2, steps=4, seed=3)
    res = engine.generate(req)
    out = res.samples[S2_KEY]
    assert out.shape == (2, 4, SIZE, SIZE) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, :, observed], np.broadcast_to(
        s2[:, observed], (2, 4, int(observed.sum()))))
    gap = ~observed
    assert res.generated[S2_KEY][gap].all()
    diff = np.abs(out[0][:, gap] - out[1][:, gap]).mean()
    assert diff > 20  # DN: two samples are two different fills
    assert 0 < np.median(out[:, :, gap]) < 6000  # plausible reflectance


def _standardised(image: np.ndarray) -> np.ndarray:
    flat = image.reshape(image.shape[0], -1).astype(np.float64)
    return ((flat - flat.mean(1, keepdims=True)) / (flat.std(1, keepdims=True) + 1e-6)).ravel()


def test_generation_follows_the_conditions(engine: CopgenEngine) -> None:
    """S2 generated from a footprint's DEM, S1 and land cover correlates with that footprint's
    true S2 (lakes, built-up, fields where the conditions put them) more than S2 generated
    from other footprints' conditions with the same noise does. A model that ignores its
    conditions draws the same image for every footprint and fails this."""
    from models.demo.data import HELD_OUT_SEED, scene_rasters
    from models.demo.world import generate_scene

    scenes = [generate_scene(HELD_OUT_SEED + 900 + i) for i in range(4)]
    gens = []
    for scene in scenes:
        raw = scene_rasters(scene)
        req = GenerationRequest(targets=(S2_KEY,), conditions={
            k: raw[k] for k in (DEM_KEY, S1_KEY, LULC_KEY)}, n_samples=1, steps=10, seed=5)
        gens.append(engine.generate(req).samples[S2_KEY][0])
    corr = np.array([[np.corrcoef(_standardised(g), _standardised(s.s2))[0, 1] for s in scenes]
                     for g in gens])  # corr[i, j]: generated from i's conditions, truth of j
    off = ~np.eye(len(scenes), dtype=bool)
    assert (np.argmax(corr, axis=0) == np.arange(len(scenes))).all(), corr.round(2)
    assert np.diag(corr).mean() > corr[off].mean() + 0.1, corr.round(2)


def _edge_pairs(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of (gap pixel, observed 4-neighbour) pairs."""
    h, w = observed.shape
    idx = np.arange(h * w).reshape(h, w)
    gaps, obs = [], []
    for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1], idx[1:])):
        for p, q in ((a, b), (b, a)):
            sel = ~observed.ravel()[p] & observed.ravel()[q]
            gaps.append(p[sel])
            obs.append(q[sel])
    return np.concatenate(gaps), np.concatenate(obs)


def test_harmonised_samples_meet_the_observation_and_spread_away_from_it(
        engine: CopgenEngine) -> None:
    """Blended into their surroundings, the samples step less across the gap's edge, agree
    more next to it than deep inside the gap, and differ from the raw samples by a smooth
    offset; observed pixels stay bit-identical either way."""
    from copgen_plugin.geo.baseline import distance_to_observed

    s2 = _window("s2l2a.tif").astype(np.float32)
    observed = (s2 != 0).all(axis=0)
    conditions = {DEM_KEY: _window("dem.tif", 3), S1_KEY: _window("s1rtc.tif"),
                  LULC_KEY: _window("lulc.tif").astype(np.int64)}
    out = {}
    for harmonise in (True, False):
        req = GenerationRequest(targets=(S2_KEY,), conditions=conditions, n_samples=6,
                                partial={S2_KEY: PartialObservation(s2, observed)}, steps=10,
                                seed=8, harmonise=harmonise)
        out[harmonise] = engine.generate(req).samples[S2_KEY].astype(np.float64)
        np.testing.assert_array_equal(out[harmonise][:, :, observed],
                                      np.broadcast_to(s2[:, observed], (6, 4, observed.sum())))
    gap_px, obs_px = _edge_pairs(observed)
    step = {h: np.abs(o.reshape(6, 4, -1)[..., gap_px] - o.reshape(6, 4, -1)[..., obs_px]).mean()
            for h, o in out.items()}
    assert step[True] < 0.8 * step[False], step
    dist = distance_to_observed(~observed, 10.0)
    std = out[True].std(axis=0, ddof=1).mean(axis=0)
    near, far = std[~observed & (dist <= 10)].mean(), std[~observed & (dist > 40)].mean()
    assert near < 0.8 * far, (near, far)
    # the offset is smooth: it changes between neighbouring gap pixels far less than the
    # samples' own texture does, so it moves the tone and leaves the detail
    both = ~observed[:, 1:] & ~observed[:, :-1]
    offset_jumps = np.abs(np.diff(out[True] - out[False], axis=-1))[..., both].mean()
    texture_jumps = np.abs(np.diff(out[False], axis=-1))[..., both].mean()
    assert offset_jumps < 0.3 * texture_jumps, (offset_jumps, texture_jumps)
