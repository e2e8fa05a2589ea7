"""Before a fill: the product as delivered, and the gap mask from what the analyst has.

``prepare_gaps`` turns a request whose target is a SAFE folder/zip or STAC item into one whose
target is the product's 10 m stack (a VRT in the run's temporary folder), and a request with
gap sources (SCL, probability layer, detector, buffer) into one whose mask layer is the
combined mask on the target's grid. The fill itself then runs unchanged; the fractions by
cause go into the report. Nothing is written next to the inputs.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import rasterio

from ..errors import Cancelled, InputError
from ..geo.bands import band_layout
from ..geo.grid import RasterGrid, pixel_size_m
from ..geo.masks import (
    DETECTOR_CLASSES,
    ClassLayer,
    MaskSummary,
    ProbabilityLayer,
    build_gap_mask,
    read_reflectance,
    write_classes,
)
from ..geo.s2product import S2Product, is_product, open_product, write_scl, write_stack
from .options import SCL_CLASS_NAMES, LayerModality
from .progress import CancelFn
from .report import FillReport
from .request import FillRequest, GapSources

_log = logging.getLogger(__name__)


@dataclass
class PreparedGaps:
    """The request the fill runs, and what was decided on the way (for the report)."""

    request: FillRequest
    product: S2Product | None = None
    summary: MaskSummary | None = None
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def finish(self, report: FillReport) -> None:
        """After the fill: a product's outputs also at 20 and 60 m, then the report."""
        if self.product is not None and report.mode == "gapfill" and report.outputs:
            from .native import write_native

            paths = [Path(report.outputs["filled"]), *map(Path, report.sample_paths)]
            native = write_native(self.product, paths)
            report.outputs["native"] = ", ".join(str(p) for p in native)
            report.notes.append(f"{len(native)} native-resolution files (20 and 60 m bands on "
                                "their own grids) beside the 10 m outputs: *_20m.tif, *_60m.tif")
        self.add_to(report)

    def add_to(self, report: FillReport) -> None:
        """Fractions by cause, the product and the notes into the run's report."""
        if self.summary is not None:
            report.masked_fraction = {k: round(v, 6) for k, v in
                                      self.summary.fractions().items()}
        report.gap_sources = list(self.sources)
        if self.product is not None:
            report.product = self.product.describe()
            if self.product.date is not None and report.date_source.endswith(
                    "dataset tag product_start_time"):
                report.date_source = self.product.date.source
        report.notes[:0] = self.notes


def _in_folder(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _resolve_product(request: FillRequest, workdir: Path, prep: PreparedGaps) -> FillRequest:
    target = request.target
    if not is_product(target.path):
        return request
    try:
        product = open_product(target.path)
        stack = write_stack(product, workdir)
    except ValueError as exc:
        raise InputError(f"input product: {exc}") from None
    if target.path.is_dir():
        outs = request.outputs
        for p in (outs.filled, outs.spread, outs.samples_dir):
            if _in_folder(p, target.path):
                raise InputError(f"output {p} lies inside the input product {target.path}; "
                                 "inputs and their folders are never written")
    prep.product = product
    prep.notes += product.notes
    if target.modality != product.family:
        prep.notes.append(f"the input product is {product.family}, not {target.modality}: "
                          f"filled as {product.family}")
    if target.bands:
        prep.notes.append("the band mapping is ignored for a product: its bands are named")
    prep.sources.append(f"product: {product.describe()}")
    family: LayerModality = "S2L1C" if product.family == "S2L1C" else "S2L2A"
    return dataclasses.replace(request, target=dataclasses.replace(
        target, path=stack, modality=family, bands=None))


def _gap_bands(request: FillRequest) -> tuple[dict[str, int], list[int]] | None:
    """The target's named bands (those whose nodata makes a gap), or None when the target is
    unusable: the fill's own checks then say why, in their words."""
    layer = request.target
    try:
        with rasterio.open(layer.path) as ds:
            count, desc = ds.count, tuple(ds.descriptions)
        layout = band_layout(layer.modality, count, mapping=layer.bands, descriptions=desc)
    except (rasterio.errors.RasterioIOError, ValueError):
        return None
    names = {n: i for n, i in layout.bands}
    return names, sorted(names.values())


def _detector_layer(request: FillRequest, names: dict[str, int], workdir: Path,
                    prep: PreparedGaps, cancel: CancelFn | None) -> ClassLayer:
    from ..engine.cloud_detector import (  # onnxruntime: only when the detector is asked for
        QUANTIFICATION,
        CloudDetector,
        find_model,
        work_pixel_m,
    )
    from ..engine.runtime import RuntimeOptions

    if request.target.modality not in ("S2L2A", "S2L1C"):
        raise InputError("the cloud detector works on Sentinel-2 L1C or L2A targets only")
    model = find_model(request.target.modality, list(names))
    target = RasterGrid.from_path(request.target.path)
    px = min(pixel_size_m(target))
    work_m = work_pixel_m(px, min(target.width, target.height) * px)
    data, valid, transform, grid = read_reflectance(
        request.target.path, [names[b] for b in model.bands], pixel_m=work_m)
    detector = CloudDetector(model, RuntimeOptions(device=request.device,
                                                   intra_op_threads=request.threads or None))
    try:
        classes = detector.classes(data / QUANTIFICATION, valid, cancel=cancel)
        device = detector.device
    finally:
        detector.close()
    path = write_classes(workdir / "detector_classes.tif", classes, crs=grid.crs,
                         transform=transform)
    prep.sources.append(f"detector: {model.onnx.parent.name} {model.version} "
                        f"({', '.join(model.bands)} at {work_m:g} m, {device})")
    return ClassLayer(path=path, codes=tuple(DETECTOR_CLASSES), names=DETECTOR_CLASSES,
                      label="detector class", what="detector classes")


def _check_layer(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    try:
        with rasterio.open(path):
            pass
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{what} {path} is not a readable raster: {exc}") from None


def prepare_gaps(request: FillRequest, workdir: Path, *, cancel: CancelFn | None = None
                 ) -> PreparedGaps:
    """Resolve a product target and build the combined gap mask (gap fill only)."""
    prep = PreparedGaps(request=request)
    request = _resolve_product(request, workdir, prep)
    src: GapSources = request.gap_sources
    if request.mode != "gapfill":
        if src.any_cloud_cause:
            raise InputError("cloud and shadow masks only apply to gap filling")
        prep.request = request
        return prep
    if src.buffer_m < 0 or src.buffer_m != src.buffer_m:
        raise InputError(f"mask buffer must be >= 0 m, got {src.buffer_m}")
    if not 0.0 <= src.probability_threshold <= 1.0:
        raise InputError(f"probability threshold must be in 0-1, got {src.probability_threshold}")
    found = _gap_bands(request)
    if found is None:
        if src.any_cloud_cause:
            raise InputError(f"target layer {request.target.path.name} cannot be read as a "
                             f"{request.target.modality} layer, so no cloud mask can be made "
                             "for it")
        prep.request = request
        return prep
    names, bands = found
    layers: list[ClassLayer] = []
    scl_names = {c: SCL_CLASS_NAMES[c] for c in src.scl_classes}
    if src.scl is not None:
        _check_layer(src.scl, "SCL layer")
        layers.append(ClassLayer(src.scl, src.scl_classes, scl_names, "SCL class",
                                 "SCL layer"))
        prep.sources.append(f"SCL layer {src.scl.name}, classes "
                            f"{', '.join(map(str, src.scl_classes))}")
    if src.scl_from_product:
        if prep.product is None:
            raise InputError("the SCL of the product was asked for, but INPUT is not a "
                             "Sentinel-2 product (SAFE folder or zip, STAC item); give the SCL "
                             "as a layer instead")
        try:
            scl = write_scl(prep.product, workdir)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        layers.append(ClassLayer(scl, src.scl_classes, scl_names, "SCL class",
                                 f"SCL of {prep.product.source.name}"))
        prep.sources.append(f"SCL of {prep.product.source.name}, classes "
                            f"{', '.join(map(str, src.scl_classes))}")
    probability = None
    if src.probability is not None:
        _check_layer(src.probability, "cloud-probability layer")
        probability = ProbabilityLayer(src.probability, src.probability_threshold)
    if src.detector:
        layers.append(_detector_layer(request, names, workdir, prep, cancel))
    if request.mask is not None:
        _check_layer(request.mask, "gap mask")
    out = workdir / "gap_mask.tif"
    try:
        summary = build_gap_mask(
            request.target.path, bands, out, nodata=request.target.nodata,
            mask_layer=request.mask, class_layers=layers, probability=probability,
            buffer_m=src.buffer_m if src.any_cloud_cause else 0.0, cancel=cancel)
    except InterruptedError as exc:
        raise Cancelled(str(exc)) from None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if probability is not None:
        prep.sources.append(f"cloud probability {src.probability.name} >= "  # type: ignore[union-attr]
                            f"{src.probability_threshold:g} ({'; '.join(summary.scale_notes)})")
    if src.any_cloud_cause:
        prep.sources.append(f"buffer {src.buffer_m:g} m around the cloud causes")
        request = dataclasses.replace(request, mask=out)
    prep.summary = summary
    prep.request = request
    return prep
