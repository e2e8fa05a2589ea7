"""Case 5 of issue 13: a weight file changed after a verified run, keeping its size and
modification time, is caught: at once by diagnostics --verify full, and by the daily full
re-hash of the cached mode, which fails the run before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.reliability.helpers import out_folder
from tests.reliability.run_b import cli, one_error_line, outputs, s2_layer
from tests.reliability.snapshot_b import snapshot

RUN = ["--samples", 2, "--steps", 2, "--device", "cpu", "--date", "2021-06-01", "--quiet"]


def _flip_a_byte_keeping_size_and_mtime(path: Path) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


def _qgis_process_diagnostics_finds_it(tmp_path: Path, models_env: dict[str, str]) -> None:
    """copgen:diagnostics with VERIFY=full says FAILED in its output and its log."""
    from copgen_plugin.engine.verify import VERIFY_MODES
    from tests.qgis.qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env

    exe = "/usr/bin/qgis_process.bin"
    if not Path(exe).exists():
        return  # the CLI checks above stand; the QGIS tests skip likewise without QGIS
    env = {**subprocess_env(tmp_path, make_plugins_dir(tmp_path)), **models_env}
    subprocess.run([exe, "plugins", "enable", PLUGIN_NAME], env=env, capture_output=True,
                   timeout=180)
    proc = subprocess.run([exe, "run", "copgen:diagnostics", "--json", "--", "DEVICE=2",
                           f"VERIFY={VERIFY_MODES.index('full')}",
                           f"OUTPUT={tmp_path / 'qgis_diag.md'}"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]
    assert result["MODEL_VERIFICATION"].startswith("FAILED copgen-tiny-random")
    assert "encoder_DEM_DEM.onnx has SHA-256" in result["MODEL_VERIFICATION"]


def test_diagnostics_verify_full_catches_a_changed_weight_file(tmp_path: Path,
                                                               package: Path) -> None:
    models, cache = tmp_path / "models", tmp_path / "cache"
    pkg = shutil.copytree(package, models / "rel")
    env = {"COPGEN_MODELS_DIR": str(models), "XDG_CACHE_HOME": str(cache)}
    n_files = len(json.loads((pkg / "manifest.json").read_text())["files"])

    first = cli("diagnostics", "--device", "cpu", "--verify", "cached", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"copgen-tiny-random: {n_files} files ok (cached)" in first.stdout

    _flip_a_byte_keeping_size_and_mtime(pkg / "encoder_DEM_DEM.onnx")
    # within a day of its last full hash, the cached mode trusts size + mtime (documented)
    again = cli("diagnostics", "--device", "cpu", "--verify", "cached", env=env)
    assert again.returncode == 0 and f"{n_files} files ok (cached)" in again.stdout

    report = tmp_path / "diag.md"
    full = cli("diagnostics", "--device", "cpu", "--verify", "full", "--output", report,
               env=env)
    line = one_error_line(full)
    assert "FAILED copgen-tiny-random" in line and "encoder_DEM_DEM.onnx has SHA-256" in line
    assert "| model_verification | FAILED copgen-tiny-random" in report.read_text()
    _qgis_process_diagnostics_finds_it(tmp_path, env)
    cache_file = cache / "copgen_plugin" / "verified_files.json"
    entries = json.loads(cache_file.read_text())
    ours = [e for k, e in entries.items() if Path(k).parent == pkg.resolve()]
    assert len(ours) == n_files and all(len(e) == 4 for e in ours)  # + the time of the hash


def test_a_changed_weight_file_with_the_same_size_and_mtime_is_caught(tmp_path: Path,
                                                                        package: Path) -> None:
    """Through gapfill alone: a verified run, the file changed keeping its size and mtime, a
    day passes (the cache's time of the last full hash moved back), the next run refuses it
    before writing anything (before issue 13 it was used without a word, for ever)."""
    models, cache = tmp_path / "models", tmp_path / "cache"
    pkg = shutil.copytree(package, models / "rel")
    env = {"COPGEN_MODELS_DIR": str(models), "XDG_CACHE_HOME": str(cache)}
    n_files = len(json.loads((pkg / "manifest.json").read_text())["files"])
    inputs = tmp_path / "in"
    target = s2_layer(inputs)
    first = cli("gapfill", target, "--model", pkg, *outputs(out_folder(tmp_path / "first")),
                *RUN, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    _flip_a_byte_keeping_size_and_mtime(pkg / "encoder_DEM_DEM.onnx")

    cache_file = cache / "copgen_plugin" / "verified_files.json"
    entries = json.loads(cache_file.read_text())
    ours = {k for k in entries if Path(k).parent == pkg.resolve()}
    assert len(ours) == n_files  # the first run verified every file
    cache_file.write_text(json.dumps({  # a day later: [size, mtime_ns, sha256, verified at]
        k: [*e[:3], e[3] - 25 * 3600] if k in ours and len(e) == 4 else e
        for k, e in entries.items()}))
    out = out_folder(tmp_path / "out")
    before = snapshot(inputs, pkg)
    proc = cli("gapfill", target, "--model", pkg, *outputs(out), *RUN, env=env)
    line = one_error_line(proc)
    assert "encoder_DEM_DEM.onnx has SHA-256" in line
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 25 * 3600))
    assert f"it changed after it was verified on {day}" in line
    assert "although its size and modification time did not" in line
    assert list(out.iterdir()) == []
    assert snapshot(inputs, pkg) == before  # the package is reported, never touched
