"""Cases 2, 6/7, 11 and 14 of issue 13 through the real ``qgis_process.bin``: a parameter error
names the parameter, its value and its range; an output that cannot be written is refused
before anything is written; SIGTERM cancels the run cleanly (the partial files and the folders
it created removed, exit status 1) and the inputs' folder keeps no ``.aux.xml``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import BANDS, s2_with_gap, snapshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qgis"))
from qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env

QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the Debian wrapper breaks (QGIS_ENV.md #1)


@pytest.fixture(scope="module")
def qgis_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not Path(QGIS_PROCESS).exists():
        pytest.skip("qgis_process.bin is not installed")
    tmp = tmp_path_factory.mktemp("qp")
    env = subprocess_env(tmp, make_plugins_dir(tmp))
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    env["COPGEN_MODELS_DIR"] = str(tmp / "models")
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", PLUGIN_NAME], env=env,
                            capture_output=True, text=True, timeout=180)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    return env


def _args(target: Path, out: Path, model: Path | str, **extra: object) -> list[str]:
    params = {"INPUT": target, "MODEL": model, "BANDS": BANDS, "N_SAMPLES": 2, "STEPS": 2,
              "DATE": "2021-06-01", "DEVICE": 1, "OUTPUT": out / "filled.tif",
              "SPREAD": out / "spread.tif", "SAMPLES": out / "samples", **extra}
    return [QGIS_PROCESS, "run", "copgen:gapfill", "--", *(f"{k}={v}" for k, v in
                                                          params.items())]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


def test_a_parameter_error_says_which_and_why(tmp_path, qgis_env):
    target = s2_with_gap(tmp_path / "s2.tif")
    before = snapshot(tmp_path)
    proc = _run(_args(target, tmp_path / "out", "m", N_SAMPLES=0), qgis_env)
    assert proc.returncode != 0
    assert "N_SAMPLES (Number of samples) must be a number between 1 and 64, got '0'" in (
        proc.stdout + proc.stderr)
    assert snapshot(tmp_path) == before  # no .aux.xml beside the input either


def test_an_output_that_cannot_be_written_is_refused_before_writing(tmp_path, qgis_env,
                                                                    ten_m_package):
    target = s2_with_gap(tmp_path / "s2.tif")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "samples").write_text("a user's file")
    before = snapshot(tmp_path)
    proc = _run(_args(target, tmp_path / "out", ten_m_package), qgis_env)
    assert proc.returncode != 0
    assert "samples folder" in proc.stdout + proc.stderr
    assert "is an existing file; give a folder" in proc.stdout + proc.stderr
    assert snapshot(tmp_path) == before


def test_sigterm_cancels_cleanly_and_the_inputs_stay_as_they_were(tmp_path, qgis_env,
                                                                  ten_m_package):
    inputs = tmp_path / "in"
    inputs.mkdir()
    target = s2_with_gap(inputs / "s2.tif")
    out = tmp_path / "out"
    out.mkdir()  # an existing output folder (before issue 13 it had to exist)
    before = snapshot(tmp_path)
    proc = subprocess.Popen(_args(target, out, ten_m_package, STEPS=400), env=qgis_env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while not (out.exists() and any(".partial-" in p.name for p in out.rglob("*"))):
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    # no partial file, no created folder (samples/), no .aux.xml
    assert snapshot(tmp_path) == before, output[-3000:]
    assert proc.returncode == 1, output[-3000:]
    assert "Cancelled" in output and "no output was written" in output


def test_a_run_leaves_no_side_file_beside_the_inputs(tmp_path, qgis_env, ten_m_package):
    """Case 14: a complete run through qgis_process leaves the inputs' folder byte-identical
    (QGIS's layer loading used to store histograms in ``s2.tif.aux.xml`` there)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    target = s2_with_gap(inputs / "s2.tif")
    before = snapshot(inputs)
    out = tmp_path / "out"
    out.mkdir()
    proc = _run(_args(target, out, ten_m_package), qgis_env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["sample_1.tif", "sample_2.tif"]
    assert (out / "filled.tif").is_file() and (out / "spread.tif").is_file()
    assert snapshot(inputs) == before, sorted(set(snapshot(inputs)) - set(before))
