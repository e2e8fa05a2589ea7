"""The engine on the shared real rasters (TerraMesh): units, code remap, gap filling.

Random weights make the generated values meaningless; what is checked is the plumbing on real
value ranges: physical units in, composited physical units out, observed pixels untouched.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from copgen_plugin.engine.modalities import TERRAMIND_TO_ESRI_LULC, normalise
from copgen_plugin.engine.requests import GenerationRequest, PartialObservation

rasterio = pytest.importorskip("rasterio")

CELL = "38D_378R_2_3"
WINDOW = (slice(16, 208), slice(16, 208))  # the centre 192 x 192 of a 224 px tile


def _read(shared: Path, name: str) -> np.ndarray:
    with rasterio.open(shared / "data" / "terramesh" / CELL / f"{name}.tif") as src:
        return src.read()[:, WINDOW[0], WINDOW[1]]


def test_terramind_lulc_maps_onto_the_esri_channels(shared_dir, table):
    codes = _read(shared_dir, "LULC")  # TerraMind numbering 0..9
    x = normalise(table.spec("LULC_LULC"), codes, code_remap=TERRAMIND_TO_ESRI_LULC)
    channel = np.argmax(x, axis=0)
    assert x.shape == (10, 192, 192)
    # every valid TerraMind class lands on its own channel (channel = TerraMind code)
    valid = codes[0] > 0
    np.testing.assert_array_equal(channel[valid], codes[0][valid])


def test_gap_fill_on_real_s2_keeps_observed_pixels(shared_dir, engine):
    s2 = _read(shared_dir, "S2L2A")  # B01..B12 without B10, DN
    rgbn = s2[[3, 2, 1, 7]]  # B04, B03, B02, B08: the 10 m group's channel order
    s1_db = _read(shared_dir, "S1RTC").astype(np.float32)  # VV, VH in dB
    observed = np.ones((192, 192), bool)
    observed[40:100, 120:180] = False
    values = rgbn.copy()
    values[:, ~observed] = 0
    result = engine.generate(GenerationRequest(
        partial={"S2L2A_B02_B03_B04_B08": PartialObservation(values, observed)},
        conditions={"S1RTC_vh_vv": s1_db, "3d_cartesian_lat_lon": (-3.4014, 34.066),
                    "mean_timestamps": dt.date(2020, 6, 1)},
        s1_in_db=True, n_samples=2, steps=4, seed=3))
    out = result.samples["S2L2A_B02_B03_B04_B08"]
    assert out.shape == (2, 4, 192, 192) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :, observed], np.broadcast_to(
        rgbn[:, observed].astype(np.float32), out[:, :, observed].shape))
    assert np.isfinite(out).all()
