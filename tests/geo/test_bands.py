"""Band mapping of product layers onto model band groups; S1 dB vs linear power."""

from __future__ import annotations

import numpy as np
import pytest

from copgen_plugin.geo import (
    S2L1C_ORDER,
    S2L2A_ORDER,
    band_layout,
    canonical_band,
    db_to_linear,
    detect_s1_scale,
    group_bands,
    parse_band_mapping,
    s1_scale_of_layer,
)
from tests.geo.helpers import need_terramesh, write_tif

# Group band lists as a model manifest gives them (channel order).
L2A_GROUPS = {
    "S2L2A_B02_B03_B04_B08": ["B04", "B03", "B02", "B08"],
    "S2L2A_B05_B06_B07_B11_B12_B8A": ["B05", "B06", "B07", "B8A", "B11", "B12"],
    "S2L2A_B01_B09": ["B01", "B09"],
}
L1C_GROUPS = {
    "S2L1C_B02_B03_B04_B08": ["B04", "B03", "B02", "B08"],
    "S2L1C_B05_B06_B07_B11_B12_B8A": ["B05", "B06", "B07", "B8A", "B11", "B12"],
    "S2L1C_B01_B09_B10": ["B01", "B09", "B10"],
}


def test_standard_l2a_layer_feeds_the_three_groups():
    layout = band_layout("S2L2A", 12)
    assert layout.source == "standard S2L2A order"
    assert group_bands(layout, L2A_GROUPS) == {
        "S2L2A_B02_B03_B04_B08": [4, 3, 2, 8],
        "S2L2A_B05_B06_B07_B11_B12_B8A": [5, 6, 7, 9, 11, 12],
        "S2L2A_B01_B09": [1, 10],
    }


def test_standard_l1c_layer_has_b10():
    layout = band_layout("S2L1C", 13)
    assert group_bands(layout, L1C_GROUPS) == {
        "S2L1C_B02_B03_B04_B08": [4, 3, 2, 8],
        "S2L1C_B05_B06_B07_B11_B12_B8A": [5, 6, 7, 9, 12, 13],
        "S2L1C_B01_B09_B10": [1, 10, 11],
    }
    assert len(S2L1C_ORDER) == 13 and set(S2L1C_ORDER) - set(S2L2A_ORDER) == {"B10"}


@pytest.mark.parametrize(
    "mapping",
    ["B04:1,B03:2,B02:3,B08:4", "b4:1, b3:2, b2:3, b8:4", "B04,B03,B02,B08",
     ["B04", "B03", "B02", "B08"], {"B04": 1, "B03": 2, "B02": 3, "B08": 4}],
)
def test_band_mapping_forms(mapping):
    layout = band_layout("S2L2A", 4, mapping=mapping)
    assert layout.source == "band mapping"
    groups = group_bands(layout, L2A_GROUPS, partial=True)
    assert groups == {"S2L2A_B02_B03_B04_B08": [1, 2, 3, 4]}
    with pytest.raises(ValueError, match=r"S2L2A_B05.*B05.*band mapping"):
        group_bands(layout, L2A_GROUPS)


def test_wrong_band_count_says_what_to_do():
    with pytest.raises(ValueError, match=r"12 bands .*this layer has 10.*band mapping"):
        band_layout("S2L2A", 10)
    with pytest.raises(ValueError, match="choose S2L1C"):
        band_layout("S2L2A", 13)
    with pytest.raises(ValueError, match="choose S2L2A"):
        band_layout("S2L1C", 12)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [("B02:1,B13:2", "unknown S2L2A band"), ("B02:1,B03:x", "1-based integer"),
     ("B02:1,B02:2", "twice"), ("B02:1,B03:1", "more than one name"),
     ("B02:1,B03:9", "layer has 4"), ("B02:1,B03", "mix of"), ("", "empty"),
     ("B02:0", "1-based")],
)
def test_bad_band_mappings_are_clear_errors(mapping, message):
    with pytest.raises(ValueError, match=message):
        band_layout("S2L2A", 4, mapping=mapping)


def test_band_descriptions_name_the_bands():
    layout = band_layout("S2L2A", 4, descriptions=["B8", "B4", "B3", "B2"])
    assert layout.source == "band descriptions"
    assert group_bands(layout, L2A_GROUPS, partial=True) == {
        "S2L2A_B02_B03_B04_B08": [2, 3, 4, 1]}
    # unrecognised descriptions fall back to the standard order
    layout = band_layout("S2L2A", 12, descriptions=["bands"] * 12)
    assert layout.source == "standard S2L2A order"


def test_single_band_families_and_s1():
    assert band_layout("DEM", 1).index("DEM") == 1
    assert band_layout("LULC", 3).index("LULC") == 1
    s1 = band_layout("S1RTC", 2)
    assert [s1.index("VV"), s1.index("vh")] == [1, 2]
    assert band_layout("S1RTC", 2, mapping="vh:1,vv:2").index("vv") == 2
    with pytest.raises(ValueError, match="unknown layer family"):
        band_layout("S3", 2)


def test_canonical_band_names():
    assert [canonical_band(s) for s in ("b2", "B02", "02", "b8a", "B8A", "B12", "VV", " dem ")] \
        == ["B02", "B02", "B02", "B8A", "B8A", "B12", "vv", "dem"]
    assert canonical_band("B13") == "B13"
    assert parse_band_mapping("B02=3;B03=1") == {"B02": 3, "B03": 1}


def test_s1_db_and_linear_are_detected():
    rng = np.random.default_rng(7)
    db = rng.normal(-13.0, 4.0, (2, 64, 64))
    db[0, :3, :3] = 3.0  # a few bright targets above 0 dB
    got = detect_s1_scale(db)
    assert (got.scale, got.source) == ("db", "detected") and "median" in got.reason
    assert detect_s1_scale(db_to_linear(db)).scale == "linear"
    noisy = db_to_linear(db) - 0.002  # thermal-noise removal leaves small negatives
    assert (noisy < 0).any() and detect_s1_scale(noisy).scale == "linear"
    with pytest.raises(ValueError, match="S1 scale parameter"):
        detect_s1_scale(rng.uniform(20, 200, (64, 64)))  # amplitude DNs: neither
    with pytest.raises(ValueError, match="no valid"):
        detect_s1_scale(np.full((4, 4), np.nan))
    valid = np.zeros((64, 64), bool)
    valid[:8] = True
    lin = db_to_linear(db[0])
    lin[8:] = -50  # invalid pixels must not vote
    assert detect_s1_scale(lin, valid=valid).scale == "linear"


def test_s1_scale_of_layer_and_override(tmp_path):
    rng = np.random.default_rng(8)
    db = rng.normal(-12.0, 3.0, (2, 300, 2100))
    db[:, :, :1000] = -9999.0
    path = write_tif(tmp_path / "s1.tif", db, nodata=-9999.0)
    got = s1_scale_of_layer(path, [1, 2], max_side=256)
    assert got.scale == "db" and got.source == "detected"
    path = write_tif(tmp_path / "lin.tif", db_to_linear(db))
    assert s1_scale_of_layer(path, [1, 2], nodata=0.0).scale == "linear"  # 10^-999.9 = 0
    forced = s1_scale_of_layer(path, [1, 2], override="db")
    assert (forced.scale, forced.source) == ("db", "parameter")
    with pytest.raises(ValueError, match="'db' or 'linear'"):
        s1_scale_of_layer(path, [1, 2], override="dB")  # type: ignore[arg-type]


def test_db_to_linear_values():
    np.testing.assert_allclose(db_to_linear(np.array([-10.0, 0.0, 10.0])), [0.1, 1.0, 10.0],
                               rtol=1e-6)
    assert db_to_linear(np.array([-10.0])).dtype == np.float32


def test_real_s1_layer_is_db():
    cell = need_terramesh()
    assert s1_scale_of_layer(cell / "S1RTC.tif", [1, 2]).scale == "db"
