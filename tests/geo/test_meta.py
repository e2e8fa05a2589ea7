"""The date condition: parameter first, else layer metadata."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from copgen_plugin.geo import layer_date, parse_date, resolve_date
from tests.geo.helpers import need_terramesh, write_tif


def test_date_from_tags_and_file_time_ignored(tmp_path):
    a = write_tif(tmp_path / "a.tif", np.zeros((1, 2, 2), np.int16),
                  tags={"datetime": "2021-07-21T08:40:10.000000000"})
    found = layer_date(a)
    assert found is not None and found.date == dt.date(2021, 7, 21)
    assert "datetime" in found.source
    b = write_tif(tmp_path / "b.tif", np.zeros((1, 2, 2), np.int16),
                  tags={"TIFFTAG_DATETIME": "2024:01:02 03:04:05"})
    assert layer_date(b) is None
    c = write_tif(tmp_path / "c.tif", np.zeros((1, 2, 2), np.int16),
                  tags={"ACQUISITION_DATE": "20190305"})
    assert layer_date(c).date == dt.date(2019, 3, 5)


def test_resolve_date_precedence(tmp_path):
    a = write_tif(tmp_path / "a.tif", np.zeros((1, 2, 2), np.int16),
                  tags={"datetime": "2021-07-21"})
    b = write_tif(tmp_path / "b.tif", np.zeros((1, 2, 2), np.int16))
    assert resolve_date("2020-02-29", paths=[a]).date == dt.date(2020, 2, 29)
    assert resolve_date(dt.datetime(2020, 1, 2, 3, 4), paths=[a]).source == "parameter"
    chosen = resolve_date(None, paths=[b, a])
    assert chosen.date == dt.date(2021, 7, 21) and "a.tif" in chosen.source
    with pytest.raises(ValueError, match="set the date parameter"):
        resolve_date("", paths=[b])
    with pytest.raises(ValueError, match="not a date"):
        parse_date("2021-02-30")


def test_real_s1_layer_carries_its_date():
    cell = need_terramesh()
    assert resolve_date(None, paths=[cell / "S2L2A.tif", cell / "S1RTC.tif"]).date \
        == dt.date(2021, 7, 21)
