"""Cases 6, 7 and 13 of issue 13 through the CLI: output names that are not GeoTIFF names,
outputs that cannot be written (read-only folder, a folder where a file goes, a file where the
samples folder goes), numbers beyond the doors' shared bounds, a 200,000 x 200,000 px layer.
Each gets one ``error:`` line naming the parameter and the fix, exit status 1, before anything
is written: the inputs' and outputs' folders are byte-identical afterwards. The output folder
exists beforehand and the model is a real one (where the case gets that far), so each case is
judged on its own behaviour: before issue 13 these runs wrote a GeoTIFF under a .png name,
published samples before a traceback, or accepted the numbers (docs/RELIABILITY.md)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import (
    cli,
    gapfill,
    no_partials,
    one_error_line,
    out_folder,
    snapshot,
    tiny_inputs,
)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """A folder no file can be created in: chmod for a user; for root (who ignores the mode)
    a read-only tmpfs mounted there."""
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"root cannot mount a read-only tmpfs here: {mount.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _refused(tmp_path: Path, argv: list[object], *fragments: str) -> None:
    before = snapshot(tmp_path)
    proc = cli(*argv)
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr, *fragments)
    assert snapshot(tmp_path) == before  # nothing written, inputs untouched
    no_partials(tmp_path)


@pytest.mark.parametrize(("option", "name"), [("--out-filled", "out.png"),
                                              ("--out-spread", "out.jpg")])
def test_non_geotiff_output_names_are_refused_with_the_fix(tmp_path, ten_m_package, option,
                                                           name):
    target = tiny_inputs(tmp_path / "in")
    argv = gapfill(target, ten_m_package, out_folder(tmp_path / "out"))
    argv[argv.index(option) + 1] = tmp_path / name
    _refused(tmp_path, argv, name, "must end in .tif or .tiff", "gdal_translate")


def test_output_in_a_read_only_folder_is_refused_before_writing(tmp_path, ten_m_package):
    target = tiny_inputs(tmp_path / "in")
    with read_only(tmp_path / "ro") as ro:
        argv = gapfill(target, ten_m_package, out_folder(tmp_path / "out"))
        argv[argv.index("--out-filled") + 1] = ro / "filled.tif"
        _refused(tmp_path, argv, f"output folder {ro} cannot be written",
                 "Read-only file system" if os.geteuid() == 0 else "Permission denied",
                 "choose a folder you can write to")
        assert snapshot(ro) == {}


def test_an_output_that_is_a_folder_and_samples_that_are_a_file(tmp_path, ten_m_package):
    target = tiny_inputs(tmp_path / "in")
    (tmp_path / "out" / "filled.tif").mkdir(parents=True)
    _refused(tmp_path, gapfill(target, ten_m_package, tmp_path / "out"),
             "filled output", "is an existing folder", "give a file name")
    (tmp_path / "out" / "filled.tif").rmdir()
    (tmp_path / "out" / "samples").write_text("a user's file")
    _refused(tmp_path, gapfill(target, ten_m_package, tmp_path / "out"),
             "samples folder", "is an existing file; give a folder")
    assert (tmp_path / "out" / "samples").read_text() == "a user's file"


@pytest.mark.parametrize(("extra", "message"), [
    (["--samples", "10000"], "n_samples must be between 1 and 64, got 10000"),
    (["--threads", "100000"], "threads must be between 0 and 256, got 100000"),
    (["--steps", "5000"], "steps must be between 1 and 1000, got 5000"),
    (["--batch-size", "0"], "batch_size must be between 1 and 64, got 0"),
    (["--overlap", "nan"], "overlap_m must be between 0 and 960, got nan"),
])
def test_the_cli_has_the_bounds_processing_has(tmp_path, extra, message):
    target = tiny_inputs(tmp_path / "in")
    _refused(tmp_path, gapfill(target, "m", out_folder(tmp_path / "out"), *extra), message)
