"""copgen:gapfill and copgen:generate: parameters -> FillRequest -> run_fill -> outputs.

The whole story of both algorithms is here; the engine and geo layers do the work.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
)

from ..errors import Cancelled, CopgenError
from ..fill.report import summary_lines
from .base import CopgenAlgorithm
from .fill_parameters import add_fill_parameters, build_request
from .layer_results import load_results


@contextlib.contextmanager
def stop_signals_cancel(cancel: Callable[[], None]) -> Iterator[None]:
    """Under qgis_process (the algorithm runs on the main thread), SIGTERM, SIGHUP and SIGINT
    cancel the run like the dialog's Cancel button: the run stops at its next check and
    removes its partial files. Elsewhere (desktop QGIS runs algorithms on a worker thread,
    where Python cannot take signals) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGTERM", "SIGHUP", "SIGINT")
    signums = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {s: signal.signal(s, lambda signum, frame: cancel()) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class _FillAlgorithm(CopgenAlgorithm):
    """Shared body; subclasses fix the mode, name and help."""

    generate = False

    def group(self) -> str:
        return "Generative"

    def groupId(self) -> str:
        return "generative"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        add_fill_parameters(self, generate=self.generate)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ..fill import run_fill  # heavy imports (rasterio, onnxruntime) only when running

        request = build_request(self, parameters, context, generate=self.generate)
        last = [0.0]

        def progress(fraction: float, message: str) -> None:
            value = max(last[0], min(100.0, 100.0 * fraction))  # monotonic for the dialog
            last[0] = value
            feedback.setProgress(value)
            if message:
                feedback.setProgressText(message)

        try:
            with stop_signals_cancel(feedback.cancel):
                report = run_fill(request, progress=progress, cancel=feedback.isCanceled,
                                  log=feedback.pushInfo)
        except Cancelled as exc:
            raise QgsProcessingException(f"Cancelled: {exc}; no output was written") from exc
        except CopgenError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for line in summary_lines(report):
            feedback.pushInfo(line)
        layers = load_results(report, request, context, title=self.displayName())
        return {
            "OUTPUT": str(request.outputs.filled),
            "SPREAD": str(request.outputs.spread),
            "SAMPLES": str(request.outputs.samples_dir),
            "OUTPUT_LAYERS": layers,
            "DEVICE_USED": report.device,
            "FOOTPRINTS": report.footprints_run,
        }


class GapfillAlgorithm(_FillAlgorithm):
    def name(self) -> str:
        return "gapfill"

    def displayName(self) -> str:
        return "Fill gaps (N samples + spread)"

    def createInstance(self) -> GapfillAlgorithm:
        return GapfillAlgorithm()

    def shortHelpString(self) -> str:
        return (
            "Fills the gaps (nodata pixels, or a mask) of a Copernicus raster with COP-GEN, "
            "conditioned on whatever other layers you have (DEM, Sentinel-1, land cover, "
            "another Sentinel-2 product, cloud mask, date). Writes N plausible filled samples, "
            "the filled layer (observed pixels untouched, ensemble mean in the gaps) and a "
            "spread layer (per-pixel uncertainty, nodata outside the gaps). Observed pixels "
            "are copied bit for bit. The raster is processed in 1920 m footprints covering the "
            "gaps only; neighbouring footprints overlap and each sample continues across them."
        )


class GenerateAlgorithm(_FillAlgorithm):
    generate = True

    def name(self) -> str:
        return "generate"

    def displayName(self) -> str:
        return "Generate a modality (N samples + spread)"

    def createInstance(self) -> GenerateAlgorithm:
        return GenerateAlgorithm()

    def shortHelpString(self) -> str:
        return (
            "Generates a whole modality (e.g. Sentinel-2 L2A from Sentinel-1 + DEM) on the grid "
            "of the reference layer, from the conditions given, as N plausible samples, their "
            "mean and a per-pixel spread layer. Cross-modal mappings are one-to-many: look at "
            "the samples and the spread, not only the mean."
        )
