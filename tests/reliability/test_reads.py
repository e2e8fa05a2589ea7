"""Cases 8 and 14 of issue 13 through the CLI: a COG whose header is intact but whose tiles are
truncated, and a VRT whose source is missing, get one error line naming the layer and the
check to run, nothing written; a run leaves the inputs' folder byte-identical (no
``.aux.xml``) and says nothing on stderr without --verbose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil

from tests.fill.helpers import write_tif
from tests.reliability.helpers import cli, gapfill, one_error_line, s2_with_gap, snapshot


def _truncated_cog(folder: Path) -> Path:
    src = s2_with_gap(folder / "plain.tif", shape=(512, 512))
    cog = folder / "s2_cog.tif"
    rasterio.shutil.copy(src, cog, driver="COG", BLOCKSIZE=256, COMPRESS="DEFLATE")
    src.unlink()
    data = cog.read_bytes()
    cog.write_bytes(data[: len(data) * 2 // 3])  # the header and the first tiles survive
    with rasterio.open(cog) as ds:  # the header still reads
        assert ds.width == 512 and ds.count == 4
    return cog


def _vrt_without_source(folder: Path) -> Path:
    src = s2_with_gap(folder / "gone.tif")
    vrt = folder / "s2.vrt"
    rasterio.shutil.copy(src, vrt, driver="VRT")
    src.unlink()
    return vrt


def test_unreadable_layers_are_named(tmp_path, ten_m_package):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for layer in (_truncated_cog(inputs), _vrt_without_source(inputs)):
        before = snapshot(tmp_path)
        proc = cli(*gapfill(layer, ten_m_package, tmp_path / "out"))
        assert proc.returncode == 1, proc.stderr
        one_error_line(proc.stderr, layer.name, "gdalinfo -checksum")
        assert snapshot(tmp_path) == before  # no output, no partial file, inputs unchanged


def test_a_run_leaves_the_inputs_folder_as_it_was_and_stderr_quiet(tmp_path, ten_m_package):
    inputs = tmp_path / "in"
    inputs.mkdir()
    target = s2_with_gap(inputs / "s2.tif")
    mask = write_tif(inputs / "mask.tif", (np.arange(64 * 64).reshape(1, 64, 64) % 7 == 0
                                          ).astype(np.uint8))
    before = snapshot(inputs)
    proc = cli(*gapfill(target, ten_m_package, tmp_path / "out", "--mask", mask))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet and no --verbose: no GDAL or engine chatter
    assert snapshot(inputs) == before
    verbose = cli(*gapfill(target, ten_m_package, tmp_path / "out", "--verbose"))
    assert verbose.returncode == 0 and "INFO" in verbose.stderr
    assert snapshot(inputs) == before

