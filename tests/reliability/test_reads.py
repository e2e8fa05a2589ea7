"""Cases 8 and 14 of issue 13 through the CLI: a COG whose header is intact but whose tiles are
truncated, and a VRT whose source is missing, get one error line naming the layer and the
check to run, nothing written; a run leaves the inputs' folder byte-identical (no
``.aux.xml``) and says nothing on stderr without --verbose."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil

from tests.fill.helpers import write_tif
from tests.reliability.helpers import (
    cli,
    gapfill,
    one_error_line,
    out_folder,
    s2_with_gap,
    snapshot,
)


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
    out = out_folder(tmp_path / "out")
    for layer in (_truncated_cog(inputs), _vrt_without_source(inputs)):
        before = snapshot(tmp_path)
        proc = cli(*gapfill(layer, ten_m_package, out))
        assert proc.returncode == 1, proc.stderr
        one_error_line(proc.stderr, layer.name, "gdalinfo -checksum")
        assert snapshot(tmp_path) == before  # no output, no partial file, inputs unchanged


def _unsorted_tiff_directory(path: Path) -> Path:
    """Swap the first two entries of the TIFF directory, as some writers leave them: libtiff
    reads every tag as before, and GDAL warns on each open ("TIFFReadDirectoryCheckOrder:
    Invalid TIFF directory; tags are not sorted in ascending order")."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\0"  # classic little-endian TIFF
    first = struct.unpack_from("<I", data, 4)[0] + 2
    data[first:first + 12], data[first + 12:first + 24] = (data[first + 12:first + 24],
                                                           data[first:first + 12])
    path.write_bytes(bytes(data))
    with rasterio.open(path) as ds:  # the same raster
        assert ds.descriptions == ("B02", "B03", "B04", "B08") and ds.nodata == 0
    return path


def test_a_run_leaves_the_inputs_folder_as_it_was_and_stderr_quiet(tmp_path, ten_m_package):
    """Case 14 (CLI): GDAL warns on every open of this input; without --verbose nothing of it
    reaches stderr (before issue 13 every GDAL message was printed), with --verbose it does."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    target = _unsorted_tiff_directory(s2_with_gap(inputs / "s2.tif"))
    mask = write_tif(inputs / "mask.tif", (np.arange(64 * 64).reshape(1, 64, 64) % 7 == 0
                                          ).astype(np.uint8))
    before = snapshot(inputs)
    out = out_folder(tmp_path / "out")
    proc = cli(*gapfill(target, ten_m_package, out, "--mask", mask))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet and no --verbose: no GDAL or engine chatter
    assert snapshot(inputs) == before
    verbose = cli(*gapfill(target, ten_m_package, out, "--verbose"))
    assert verbose.returncode == 0 and "INFO" in verbose.stderr
    assert "tags are not sorted in ascending order" in verbose.stderr
    assert snapshot(inputs) == before

