"""Cases 1, 3 and 13 of issue 13 through the CLI, on a real tiny model package.

1. A disk that is too small: refused before the first write with the figures (a 2 MiB
   tmpfs, the issue's: before, the run exited 0 and published truncated rasters there); a
   write that fails half-way (a file size limit, RLIMIT_FSIZE: GDAL gets EFBIG exactly as it
   gets ENOSPC on a full disk, after the free-space check passed): the run fails with the
   error, nothing is published and the folder is exactly as before.
3. A re-run into a samples folder with fewer samples removes the samples of the earlier run
   beyond N (recognised by their tags) and says so; a file of the user's named like a sample
   is left as it is.
13. A 200,000 x 200,000 px layer is refused at once, with the fix.
"""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.fill.helpers import read, write_tif
from tests.reliability.helpers import (
    cli,
    gapfill,
    no_partials,
    one_error_line,
    out_folder,
    s2_with_gap,
    snapshot,
)


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A real 2 MiB file system (tmpfs; root only), as in the issue."""
    folder = tmp_path / "small"
    folder.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_outputs_that_do_not_fit_are_refused_with_the_figures(tmp_path, tiny_fs, ten_m_package):
    target = s2_with_gap(tmp_path / "s2.tif", shape=(200, 200))
    (tiny_fs / "earlier.txt").write_text("the user's file")
    run = out_folder(tiny_fs / "run")
    before, before_in = snapshot(tiny_fs), snapshot(tmp_path / "s2.tif")
    proc = cli(*gapfill(target, ten_m_package, run, samples=8))
    assert snapshot(tiny_fs) == before, proc.stderr[-2000:]  # the disk exactly as it was
    assert snapshot(tmp_path / "s2.tif") == before_in
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr, "not enough free space for the outputs", "MiB is free")
    need = float(line.split("need up to ")[1].split(" MiB")[0])
    assert need == pytest.approx(200 * 200 * 4 * (2 * 9 + 4) / 2**20, abs=0.05)


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_that_fails_half_way_publishes_nothing(tmp_path, ten_m_package):
    """The issue's disk-full run: the outputs fit by the estimate, then the writes fail. The
    error is raised (not only logged by GDAL), the exit status is 1, and the output folder is
    exactly as it was, the earlier run's outputs included."""
    target = s2_with_gap(tmp_path / "s2.tif", shape=(300, 300))
    out = out_folder(tmp_path / "out")
    first = cli(*gapfill(target, ten_m_package, out))
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path)
    # 60 kB per file: the header and the first blocks fit, the rest hits EFBIG
    proc = cli(*gapfill(target, ten_m_package, out, "--seed", 9),
               preexec=_file_size_limit(60_000))
    assert snapshot(tmp_path) == before, proc.stderr[-2000:]
    no_partials(tmp_path)
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr, "writing sample_1.tif failed (", "Write error", "MiB free in",
                   "nothing was published")


def test_fewer_samples_remove_the_earlier_runs_extra_samples(tmp_path, ten_m_package):
    target = s2_with_gap(tmp_path / "s2.tif")
    out = out_folder(tmp_path / "out")
    first = cli(*gapfill(target, ten_m_package, out, samples=3))
    assert first.returncode == 0, first.stderr
    mine = write_tif(out / "samples" / "sample_7.tif", np.ones((1, 4, 4), np.uint8))
    (out / "samples" / "notes.txt").write_text("keep")
    user = snapshot(out / "samples")
    second = cli(*gapfill(target, ten_m_package, out, "--json", samples=1))
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    names = sorted(p.name for p in (out / "samples").iterdir())
    assert names == ["notes.txt", "sample_1.tif", "sample_7.tif"]
    for k in (2, 3):
        assert f"removed sample_{k}.tif: a sample of an earlier run with more samples" in (
            report["notes"])
    assert any("left sample_7.tif" in n and "not written by COP-GEN" in n
               for n in report["notes"])
    for name in ("sample_7.tif", "notes.txt"):
        assert snapshot(out / "samples")[name] == user[name]
    assert read(mine)[0].sum() == 16
    assert read(out / "samples" / "sample_1.tif")[1]["tags"]["COPGEN_SAMPLE"] == "1"


def test_a_huge_layer_is_refused_at_once(tmp_path, ten_m_package):
    """A 200,000 x 200,000 px layer (a VRT over a small file): refused before planning."""
    small = s2_with_gap(tmp_path / "s2.tif")
    vrt = tmp_path / "huge.vrt"
    bands = "".join(
        f'<VRTRasterBand dataType="Int16" band="{b}"><NoDataValue>0</NoDataValue>'
        f'<Description>{d}</Description><SimpleSource><SourceFilename relativeToVRT="1">'
        f's2.tif</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>'
        for b, d in enumerate(["B02", "B03", "B04", "B08"], start=1))
    vrt.write_text(f'<VRTDataset rasterXSize="200000" rasterYSize="200000"><SRS>EPSG:32632</SRS>'
                   f'<GeoTransform>500000, 10, 0, 5020000, 0, -10</GeoTransform>{bands}'
                   '</VRTDataset>')
    out = out_folder(tmp_path / "out")
    before = snapshot(tmp_path)
    proc = cli(*gapfill(vrt, ten_m_package, out), timeout=120)
    assert proc.returncode == 1, proc.stderr
    one_error_line(proc.stderr, "huge.vrt is 200000 x 200000 px (4e+10 pixels)",
                   "at most 1e+09", "gdal_translate -projwin")
    assert snapshot(tmp_path) == before
    assert small.exists()


def test_blocks_gdal_fails_to_flush_at_close_fail_the_commit(tiny_fs):
    """Small windows stay in GDAL's block cache until close, where GDAL only logs its write
    errors: the read-back of the finished file turns them into an error, nothing is published
    (before: the truncated raster was renamed onto the destination, exit status 0)."""
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    from copgen_plugin.errors import OutputError
    from copgen_plugin.geo import GeoTiffWriter, RasterGrid

    grid = RasterGrid(CRS.from_epsg(32632), Affine(10, 0, 500_000, 0, -10, 5_020_000), 600, 600)
    writer = GeoTiffWriter(tiny_fs / "out.tif", grid, count=2, dtype="float32", nodata=-9999.0)
    rng = np.random.default_rng(0)
    for r0 in range(0, 600, 100):  # noise: deflate cannot make it fit in 2 MiB
        writer.write_window(rng.random((2, 100, 600), dtype=np.float32), Window(0, r0, 600, 100))
    with pytest.raises(OutputError, match=r"writing out.tif failed .* MiB free in"):
        writer.commit()
    assert writer.state == "aborted" and list(tiny_fs.iterdir()) == []
