"""Pre-/post-processing parity with the official code (kit cases prepost__*, post_extra__*)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from copgen_plugin.engine import modalities as mod
from copgen_plugin.errors import InputError

PRE_TOL = {"rtol": 1e-6, "atol": 1e-6}
KEYS = {"S2": "S2L2A_B02_B03_B04_B08", "S1": "S1RTC_vh_vv", "S1_in_db": "S1RTC_vh_vv",
        "DEM": "DEM_DEM", "LULC": "LULC_LULC", "cloud_mask": "S2L1C_cloud_mask"}


@pytest.mark.parametrize("case", ["S2", "S1", "S1_in_db", "DEM", "LULC", "cloud_mask"])
def test_image_pre_and_post_match_official(cases, table, case):
    spec = table.spec(KEYS[case])
    raw = cases[f"prepost__{case}__raw"]
    pre = mod.normalise_image(spec, raw, s1_in_db=case == "S1_in_db", check_shape=False)
    assert pre.dtype == np.float32
    np.testing.assert_allclose(pre, cases[f"prepost__{case}__pre"], **PRE_TOL)
    post = mod.denormalise(spec, cases[f"prepost__{case}__pre"][None])
    expected = cases[f"prepost__{case}__post"]
    assert post.shape == expected.shape
    if spec.is_categorical:
        assert post.dtype == np.int64
        np.testing.assert_array_equal(post, expected)
    else:
        np.testing.assert_allclose(post, expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", ["S2", "S1", "DEM", "LULC", "cloud_mask"])
def test_post_extra_matches_official(cases, table, case):
    key = KEYS[case]
    out = mod.denormalise(table.spec(key), cases[f"post_extra__{case}__in"])
    expected = cases[f"post_extra__{case}__out"]
    if expected.dtype == np.int64:
        np.testing.assert_array_equal(out, expected)
    else:
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-9)


def test_lat_lon_pre_post_match_official(cases, table):
    spec = table.spec("3d_cartesian_lat_lon")
    pre = mod.normalise(spec, cases["prepost__lat_lon__raw"])
    np.testing.assert_allclose(pre, cases["prepost__lat_lon__pre"], **PRE_TOL)
    post = mod.denormalise(spec, cases["prepost__lat_lon__pre"])
    np.testing.assert_allclose(post, cases["prepost__lat_lon__post"], rtol=0, atol=1e-4)
    extra = mod.denormalise(spec, cases["post_extra__lat_lon__in"])
    np.testing.assert_allclose(extra, cases["post_extra__lat_lon__out"], rtol=0, atol=1e-4)


def test_dates_encode_in_utc_and_decode_exactly(cases, table):
    spec = table.spec("mean_timestamps")
    dates = [mod.date_from_posix(s) for s in cases["prepost__timestamps__raw"]]
    iso = [str(s)[:10] for s in cases["prepost__timestamps__iso_utc"]]
    assert [d.isoformat() for d in dates] == iso
    pre = mod.normalise(spec, dates)
    np.testing.assert_allclose(pre, cases["prepost__timestamps__pre"], **PRE_TOL)
    post = mod.denormalise(spec, cases["prepost__timestamps__pre"])
    np.testing.assert_array_equal(post, cases["prepost__timestamps__post"])
    extra = mod.denormalise(spec, cases["post_extra__timestamps__in"])
    np.testing.assert_array_equal(extra, cases["post_extra__timestamps__out"])


def test_aware_datetime_is_taken_in_utc():
    # 23:30 on 31 Dec in UTC-5 is already 1 Jan in UTC: the UTC day decides
    local = dt.datetime(2020, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    np.testing.assert_array_equal(mod.encode_date(local), mod.encode_date(dt.date(2021, 1, 1)))


def test_terramind_lulc_codes_remap_to_esri_before_one_hot(table):
    spec = table.spec("LULC_LULC")
    terramind = np.arange(10, dtype=np.uint8).reshape(1, 1, 10)  # 0..9 TerraMind numbering
    esri = mod.remap_codes(terramind, mod.TERRAMIND_TO_ESRI_LULC)
    np.testing.assert_array_equal(esri.ravel(), [0, 1, 2, 4, 5, 7, 8, 9, 10, 11])
    x = mod.normalise_image(spec, terramind, code_remap=mod.TERRAMIND_TO_ESRI_LULC,
                            check_shape=False)
    np.testing.assert_array_equal(np.argmax(x, axis=0).ravel(), np.arange(10))
    back = mod.denormalise(spec, x[None],
                           code_remap=mod.invert_code_remap(mod.TERRAMIND_TO_ESRI_LULC))
    np.testing.assert_array_equal(back.ravel(), terramind.ravel())


def test_image_shape_is_checked_against_the_modality(table):
    spec = table.spec("S2L2A_B02_B03_B04_B08")
    with pytest.raises(InputError, match="expected \\(4, 192, 192\\)"):
        mod.normalise(spec, np.zeros((3, 192, 192), dtype=np.uint16))
    batch = mod.normalise(spec, np.full((2, 4, 192, 192), 5000, dtype=np.uint16))
    assert batch.shape == (2, 4, 192, 192) and np.all(batch == 0)


def test_generated_year_without_a_calendar_date_is_clipped(table, caplog):
    """A random-weight model can emit year_norm -52 (year -633): the official decoder fails
    there; years a calendar has stay as the official decoder gives them (3.5 -> 2175)."""
    spec = table.spec("mean_timestamps")
    x = np.array([13.27, 6.44, -52.66, 0.0, 1.0, 3.5], np.float32).reshape(2, 1, 1, 3)
    out = mod.denormalise(spec, x)
    assert out[0, 0, 0, 2] == 1 and out[1, 0, 0, 2] == 2175
    assert "year -633 has no calendar date" in caplog.text
