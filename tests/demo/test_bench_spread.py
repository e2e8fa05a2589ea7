"""benchmarks/bench_spread.py ends with the lines issue 19 fixes for scripts, and they repeat
the figures of its table (run as users run it, on the shipped demo package, tiny settings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NUMBER = r"(\d+(?:\.\d+)?)"
LAST = [rf"tokenizer: rmse {NUMBER} gradient {NUMBER}",
        *(rf"coverage {re.escape(s)}: model {NUMBER} oracle {NUMBER}"
          for s in ("dem", "dem+s1", "dem+s1+lulc")),
        rf"ensemble rmse: model {NUMBER} gdal {NUMBER}"]


def test_last_lines_are_the_scripts_contract() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_spread.py"), "--scenes", "1",
         "--samples", "3", "--steps", "2", "--tokenizer-scenes", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=True).stdout
    lines = out.rstrip("\n").splitlines()
    found = [re.fullmatch(pattern, line) for pattern, line in zip(LAST, lines[-5:], strict=True)]
    assert all(found), lines[-5:]
    rmse, ratio = (float(v) for v in found[0].groups())
    assert rmse > 0 and 0 < ratio < 2
    table = {line[:24].strip(): line[24:].split() for line in lines if len(line) > 24}
    for m, setting in zip(found[1:4], ("dem", "dem+s1", "dem+s1+lulc"), strict=True):
        model, oracle = m.groups()
        assert table[setting][0] == model  # "57.4 %" in the table, 57.4 here
        assert table[f"oracle, {setting}"][0] == oracle
        assert 0 < float(oracle) <= 100
    ensemble, gdal = found[4].groups()
    # mean RMSE is the last but one column of the table
    assert round(float(table["dem+s1+lulc"][-2])) == round(float(ensemble))
    assert round(float(table["GDAL FillNodata"][-2])) == round(float(gdal))
