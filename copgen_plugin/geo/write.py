"""Atomic, streaming GeoTIFF outputs on the target's grid.

Each output is written window by window into ``<stem>.partial-<hex>.tif`` beside the
destination (tiled, deflate, BIGTIFF=IF_SAFER) and only renamed onto the destination once
complete (after fsync). An exception or cancel removes the partial files, so a user never sees
a half-written raster. ``OutputSet`` commits several outputs together: all partial files are
finished before the first rename, or all are removed.

Write errors are raised, never only logged: a failing window write raises ``OutputError``, and
since GDAL reports errors of the blocks it flushes at close only on its log, every finished
file is read back block by block before it can be published (a disk that filled up, a file
size limit or an I/O error then fails the run, and nothing is published).

Memory: nothing is held beyond the window being written and GDAL's block cache.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import OutputError
from .footprints import window_slices
from .grid import RasterGrid, grid_offset
from .partials import PartialFile

_log = logging.getLogger(__name__)


def to_output_dtype(array: np.ndarray, dtype: str | np.dtype, nodata: float | None) -> np.ndarray:
    """Cast generated float values for an output of ``dtype``: rounded and clipped for
    integers; a value that would equal ``nodata`` is moved one step away from it, so a filled
    pixel can never read as a gap."""
    dt = np.dtype(dtype)
    a = np.asarray(array)
    if np.issubdtype(dt, np.integer):
        if np.isnan(a).any() if np.issubdtype(a.dtype, np.floating) else False:
            raise ValueError("generated values contain NaN; only covered pixels can be written")
        info = np.iinfo(dt)
        out = np.clip(np.rint(a), info.min, info.max).astype(dt)
        if nodata is not None and not math.isnan(nodata) and info.min <= nodata <= info.max:
            hit = out == nodata
            if hit.any():
                out[hit] = nodata + 1 if nodata < info.max else nodata - 1
                _log.debug("%d generated values moved off nodata %g", int(hit.sum()), nodata)
        return out
    out = a.astype(dt)
    if nodata is not None and not math.isnan(nodata):
        hit = out == nodata
        if hit.any():
            out[hit] = np.nextafter(dt.type(nodata), dt.type(np.inf))
    return out


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _free_text(folder: Path) -> str:
    with contextlib.suppress(OSError):
        return f"; {shutil.disk_usage(folder).free / 2**20:.1f} MiB free in {folder}"
    return ""


def write_failed(dest: Path, exc: BaseException) -> OutputError:
    """The error of an output that could not be written, with the free space beside it."""
    detail = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    return OutputError(f"writing {dest.name} failed ({detail}{_free_text(dest.parent)}); "
                       "nothing was published: free some space (or check the disk) and run "
                       "again")


def check_complete(path: Path, dest: Path) -> None:
    """Read every block of every band of ``path`` back: a block GDAL could not flush (disk
    full, file size limit) fails here, not later in the user's hands."""
    try:
        with rasterio.open(path) as ds:
            for _, win in ds.block_windows(1):
                ds.read(window=win)
    except RasterioError as exc:
        raise write_failed(dest, exc) from exc


class GeoTiffWriter:
    """One output raster on ``grid``, written in windows, published atomically.

    Use as a context manager (commit on success, abort on exception) or call ``commit`` /
    ``abort``. ``cog=True`` publishes a Cloud-Optimised GeoTIFF (one extra copy at commit).
    """

    def __init__(
        self,
        dest: str | Path,
        grid: RasterGrid,
        *,
        count: int,
        dtype: str | np.dtype,
        nodata: float | None = None,
        descriptions: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        cog: bool = False,
        blocksize: int = 256,
    ) -> None:
        self.dest = Path(dest)
        if not self.dest.parent.is_dir():
            raise FileNotFoundError(f"output folder {self.dest.parent} does not exist")
        if descriptions is not None and len(descriptions) != count:
            raise ValueError(f"{len(descriptions)} band descriptions for {count} bands")
        self.grid = grid
        self.count = int(count)
        self.dtype = np.dtype(dtype)
        self.nodata = nodata
        self.cog = cog
        self._partials = [PartialFile(self.dest)]
        self.tmp = self._partials[0].path
        predictor = 3 if np.issubdtype(self.dtype, np.floating) else 2
        # Band-interleaved: with pixel interleaving, GDAL flushes an evicted, partly written
        # block with 0 (not nodata) in the unwritten pixels of bands 2..n, so masked window
        # writes under cache pressure left zeros where nodata belonged.
        try:
            self._ds: rasterio.io.DatasetWriter | None = rasterio.open(
                self.tmp, "w+", driver="GTiff", width=grid.width, height=grid.height,
                count=self.count, dtype=self.dtype.name, crs=grid.crs, transform=grid.transform,
                nodata=nodata, tiled=True, blockxsize=blocksize, blockysize=blocksize,
                compress="deflate", predictor=predictor, BIGTIFF="IF_SAFER", interleave="band",
            )
        except BaseException as exc:
            self._partials[0].remove()
            if isinstance(exc, RasterioError):
                raise write_failed(self.dest, exc) from exc
            raise
        if descriptions is not None:
            for i, d in enumerate(descriptions, start=1):
                self._ds.set_band_description(i, d)
        if tags:
            self._ds.update_tags(**tags)
        self._state = "open"

    def _open_ds(self) -> rasterio.io.DatasetWriter:
        if self._ds is None or self._state != "open":
            raise RuntimeError(f"{self.dest.name}: writer is {self._state}")
        return self._ds

    def _indexes(self, bands: Sequence[int] | None) -> list[int]:
        if bands is None:
            return list(range(1, self.count + 1))
        idx = [int(b) for b in bands]
        if not idx or any(not 1 <= b <= self.count for b in idx) or len(set(idx)) != len(idx):
            raise ValueError(f"{self.dest.name}: bands {idx} are not distinct 1-based bands of "
                             f"a {self.count}-band output")
        return idx

    def write_window(self, array: np.ndarray, window: Window, *,
                     mask: np.ndarray | None = None, bands: Sequence[int] | None = None) -> None:
        """Write ``array`` (C, h, w) (or (h, w) for one band) on ``window`` of the grid,
        clipped to the raster; with ``mask`` ((h, w) or (C, h, w)) only where it is True.
        ``bands`` (1-based) says which output bands the C channels go to (default: all), so
        each band group can be written straight to its file bands."""
        ds = self._open_ds()
        idx = self._indexes(bands)
        a = np.asarray(array)
        if a.ndim == 2:
            a = a[None]
        h, w = int(window.height), int(window.width)
        if a.shape != (len(idx), h, w):
            raise ValueError(f"{self.dest.name}: array {a.shape} does not fit window "
                             f"({len(idx)}, {h}, {w})")
        if a.dtype != self.dtype and not np.can_cast(a.dtype, self.dtype, "safe"):
            raise TypeError(f"{self.dest.name}: {a.dtype} values for a {self.dtype} output; "
                            "convert with to_output_dtype first")
        inter = self.grid.clip(window)
        if inter is None:
            return
        sl = window_slices(inter, window)
        part = a[(slice(None), *sl)].astype(self.dtype, copy=False)
        if mask is not None:
            m = np.asarray(mask, dtype=bool)
            m = m[sl] if m.ndim == 2 else m[(slice(None), *sl)]
            if not m.any():
                return
            part = np.where(m, part, ds.read(idx, window=inter))
        try:
            ds.write(part, indexes=idx, window=inter)
        except RasterioError as exc:
            raise write_failed(self.dest, exc) from exc

    def read_window(self, window: Window, *, bands: Sequence[int] | None = None) -> np.ndarray:
        """Current content (C, h, w) of ``window`` (of ``bands``, default all); outside the
        raster: nodata (or 0). Reading back what earlier footprints wrote is how overlap is
        held as observed."""
        ds = self._open_ds()
        idx = self._indexes(bands)
        h, w = int(window.height), int(window.width)
        fill = self.nodata if self.nodata is not None else 0
        out = np.full((len(idx), h, w), fill, dtype=self.dtype)
        inter = self.grid.clip(window)
        if inter is not None:
            out[(slice(None), *window_slices(inter, window))] = ds.read(idx, window=inter)
        return out

    def copy_from(self, path: str | Path, bands: Sequence[int], *, chunk_rows: int = 256,
                  chunk_cols: int = 8192) -> None:
        """Initialise with ``bands`` of a raster on the same grid and dtype, bit for bit,
        chunk by chunk (then only gap pixels need writing)."""
        ds = self._open_ds()
        if len(bands) != self.count:
            raise ValueError(f"{len(bands)} bands to copy into a {self.count}-band output")
        with rasterio.open(path) as src:
            sgrid = RasterGrid.from_dataset(src)
            if (sgrid.crs != self.grid.crs or sgrid.shape != self.grid.shape
                    or grid_offset(sgrid.transform, self.grid.transform) != (0, 0)):
                raise ValueError(f"{path} is not on the output grid; cannot copy it bit for bit")
            dts = {np.dtype(src.dtypes[b - 1]) for b in bands}
            if dts != {self.dtype}:
                raise ValueError(f"{path} is {sorted(d.name for d in dts)}, the output "
                                 f"{self.dtype}; a bit-exact copy needs the same type")
            for r0 in range(0, self.grid.height, chunk_rows):
                for c0 in range(0, self.grid.width, chunk_cols):
                    win = Window(c0, r0, min(chunk_cols, self.grid.width - c0),
                                 min(chunk_rows, self.grid.height - r0))
                    data = src.read(list(bands), window=win)
                    try:
                        ds.write(data, window=win)
                    except RasterioError as exc:
                        raise write_failed(self.dest, exc) from exc

    def finish(self) -> None:
        """Close and flush the partial file (and convert to COG), then read it back whole
        (``check_complete``); it is not yet published."""
        ds = self._open_ds()
        ds.close()
        self._ds = None
        if self.cog:
            cog = PartialFile(self.dest)
            self._partials.append(cog)
            try:
                rasterio.shutil.copy(self.tmp, cog.path, driver="COG", COMPRESS="DEFLATE",
                                     BIGTIFF="IF_SAFER", PREDICTOR="YES")
            except RasterioError as exc:
                raise write_failed(self.dest, exc) from exc
            self._partials.pop(0).remove()
            self.tmp = cog.path
        check_complete(self.tmp, self.dest)
        try:
            _fsync_file(self.tmp)
        except OSError as exc:
            raise write_failed(self.dest, exc) from exc
        self._state = "finished"

    def publish(self) -> Path:
        """Rename the finished partial file onto the destination."""
        if self._state != "finished":
            raise RuntimeError(f"{self.dest.name}: finish() before publish() (state {self._state})")
        os.replace(self.tmp, self.dest)
        self._unlink(Path(f"{self.tmp}.aux.xml"))
        for partial in self._partials:
            partial.release()
        _fsync_dir(self.dest.parent)
        self._state = "committed"
        _log.info("wrote %s", self.dest)
        return self.dest

    def commit(self) -> Path:
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise
        return self.publish()

    @staticmethod
    def _unlink(p: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()

    def abort(self) -> None:
        """Drop the output: close and delete the partial file(s). Idempotent."""
        if self._state == "committed":
            return
        if self._ds is not None:
            with contextlib.suppress(Exception):
                self._ds.close()
            self._ds = None
        for partial in self._partials:
            partial.remove()
        self._state = "aborted"

    @property
    def state(self) -> str:
        return self._state

    def __enter__(self) -> GeoTiffWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if et is None:
            self.commit()
        else:
            self.abort()


class OutputSet:
    """Several outputs (N samples, filled, spread) committed together or all removed."""

    def __init__(self) -> None:
        self._writers: list[GeoTiffWriter] = []

    def add(self, dest: str | Path, grid: RasterGrid, **options: object) -> GeoTiffWriter:
        """Open one more output; ``options`` as for ``GeoTiffWriter``."""
        d = Path(dest).resolve()
        if any(w.dest.resolve() == d for w in self._writers):
            raise ValueError(f"two outputs write {d}")
        try:
            w = GeoTiffWriter(dest, grid, **options)  # type: ignore[arg-type]
        except BaseException:
            self.abort()
            raise
        self._writers.append(w)
        return w

    @property
    def writers(self) -> tuple[GeoTiffWriter, ...]:
        return tuple(self._writers)

    def commit(self) -> list[Path]:
        """Finish every partial file, then rename them all. A failure before the first rename
        removes every partial file; a failing rename removes the remaining ones."""
        try:
            for w in self._writers:
                w.finish()
        except BaseException:
            self.abort()
            raise
        out: list[Path] = []
        try:
            for w in self._writers:
                out.append(w.publish())
        except BaseException:
            self.abort()
            raise
        return out

    def abort(self) -> None:
        for w in self._writers:
            w.abort()

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        if et is None:
            self.commit()
        else:
            self.abort()
