"""One gap fill or generation over a whole raster (QGIS-free: numpy, rasterio, the engine).

``run_fill(request, progress=, cancel=, log=) -> FillReport`` is the single entry point of the
Processing algorithms and the CLI. Modules, each with one job:

* ``options``   the vocabulary of the two doors: enumerations, condition table, text parsers
* ``request``   the plain request values and their validation (the contract with the callers)
* ``report``    the run report: counters, notes, tags, the summary both doors print
* ``model``     which package ``request.model`` names (folder or installed model id)
* ``inputs``    layers -> package modality keys: band layouts, S1 scale, outputs' shape
* ``reads``     per footprint: the target's partial observation, conditions on native grids
* ``footprint`` the plan and the footprint loop (seams held per sample)
* ``outputs``   samples, filled and spread rasters: copy, cast, ensemble statistics
* ``progress``  monotonic progress, cancel, messages
* ``gaps``      before a fill: a Sentinel-2 product as its 10 m stack, the gap sources (SCL,
                probability, detector, buffer) as one mask, the masked fractions by cause
* ``native``    after a product's fill: its 20 and 60 m bands also on their own grids
* ``run``       ``run_fill``: the data flow, steps 1 to 6

Conventions (what an analyst gets):

* Gap = a pixel inside the raster where any named band is invalid (nodata, GDAL mask, NaN)
  or the mask layer is non-zero, or a gap source (``request.gap_sources``) flags it. Only gap
  pixels are ever written; every other pixel of every
  sample and of the filled raster is the input's, bit for bit.
* Gapfill outputs are a drop-in replacement of the input: same bands, order, dtype, nodata,
  CRS and transform. Generated values are rounded/clipped to the dtype and never equal nodata.
  A layer without nodata keeps none, unless some gap pixels stay unfilled (next point): then
  NaN (floats) or a dtype extreme absent from the layer is set and written there.
* Bands the model has no group for (e.g. a demo package with only the 10 m S2 group and a
  12-band layer) are copied through with their gap pixels set to nodata, listed in
  ``FillReport.ungenerated_bands`` and in a note: partial results are delivered, never
  invented, never silent.
* Generate outputs: float32 (nodata NaN) for continuous modalities, uint8 (nodata 255) for
  classes; the package's bands of the family in product order; S1 as linear power unless the
  layer's ``s1_scale`` is ``db``.
* Filled = the rounded mean of the samples as written (classes: the mode, ties to the
  smallest code); spread = their standard deviation (ddof 1), range or IQR, float32, one band
  per output band (classes: the share of samples disagreeing with the mode), -9999 outside the
  generated pixels.
* Seams: footprints overlap by ``overlap_m``; what sample k generated in an earlier footprint
  is held (latent inpainting, one observation per sample, one batched engine call) when
  sample k of the next footprint is generated, and never written twice.
* Seeds: footprint i runs with a seed derived from (seed, i); sample k's noise comes from
  (that seed, k): the same request gives the same files.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .report import FillReport, summary_lines
from .request import FillOutputs, FillRequest, LayerInput, validate

__all__ = ["FillOutputs", "FillReport", "FillRequest", "LayerInput", "run_fill",
           "summary_lines", "validate"]


def __getattr__(name: str) -> Any:
    """``run_fill`` on first use: the request values stay importable without rasterio or
    onnxruntime (the QGIS plugin builds requests at load time)."""
    if name == "run_fill":
        return import_module(".run", __name__).run_fill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
