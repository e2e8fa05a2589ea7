"""The two doors' shared vocabulary and validation: the same texts parse the same way, the same
requests are accepted or refused, and output folders are created by the run (and removed again
when it fails) whichever door built the request."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from copgen_plugin.errors import Cancelled, InputError
from copgen_plugin.fill import FillOutputs, run_fill, validate
from copgen_plugin.fill.options import (
    CONDITIONS,
    LAYER_MODALITIES,
    parse_condition_bands,
    parse_date,
    parse_lulc_remap,
)
from tests.fill.helpers import cloud_mask, request, smooth_s2, write_tif


def test_parsers_accept_the_documented_texts_and_name_the_problem():
    assert parse_date(" 2021-06-01T10:20:00Z ") == dt.date(2021, 6, 1)
    assert parse_date("") is None and parse_date(None) is None
    with pytest.raises(InputError, match="'June 2021' is not a date like 2021-06-01"):
        parse_date("June 2021")
    assert parse_lulc_remap("3:4, 4:5") == {3: 4, 4: 5}
    assert parse_lulc_remap("TerraMind")[3] == 4  # TerraMind's flooded vegetation -> Esri 4
    with pytest.raises(InputError, match="'3-4' is not 'from:to'"):
        parse_lulc_remap("3-4")
    # the Processing text ("; "-separated) and the CLI items give the same mapping
    text = "s2l1c=B04,B03; S2L2A=B02:1,B03:2"
    assert parse_condition_bands(text) == parse_condition_bands(text.split(";")) == {
        "S2L1C": "B04,B03", "S2L2A": "B02:1,B03:2"}
    with pytest.raises(InputError, match="FAMILY=MAPPING with FAMILY one of S2L2A"):
        parse_condition_bands("DEMX=1")
    assert sorted(s.family for s in CONDITIONS) == sorted(LAYER_MODALITIES)


def test_missing_output_folders_are_accepted_and_a_file_in_the_way_is_not(tmp_path):
    target = write_tif(tmp_path / "t.tif", np.ones((4, 10, 10), np.int16))
    req = request(target, tmp_path / "out", "m")
    nested = dataclasses.replace(req, outputs=FillOutputs(
        tmp_path / "new" / "a" / "f.tif", tmp_path / "new" / "b" / "s.tif",
        tmp_path / "new" / "c" / "samples"))
    validate(nested)  # both doors: folders are created by the run
    (tmp_path / "blocker").write_text("x")
    blocked = dataclasses.replace(req, outputs=dataclasses.replace(
        req.outputs, filled=tmp_path / "blocker" / "f.tif"))
    with pytest.raises(InputError,
                       match=r"output folder .*blocker cannot be written \(a file is in"):
        validate(blocked)
    with pytest.raises(InputError, match="n_samples must be between 1 and 64"):
        validate(dataclasses.replace(req, n_samples=0))
    assert not (tmp_path / "new").exists()  # validation creates nothing


def test_a_cancelled_run_removes_the_folders_it_created(tmp_path, ten_m_package):
    shape = (40, 50)
    s2 = smooth_s2(shape, 12)
    s2[:, cloud_mask(shape, seed=3)] = 0
    target = write_tif(tmp_path / "t.tif", s2, nodata=0)
    base = request(target, tmp_path / "unused", ten_m_package, steps=2)
    outs = FillOutputs(tmp_path / "new" / "f.tif", tmp_path / "new" / "s.tif",
                       tmp_path / "new" / "deep" / "samples")
    messages: list[str] = []
    with pytest.raises(Cancelled):
        run_fill(dataclasses.replace(base, outputs=outs),
                 progress=lambda f, m: messages.append(m),
                 cancel=lambda: any("step" in m for m in messages))
    assert any("step" in m for m in messages)  # it got as far as generating
    assert not (tmp_path / "new").exists()
