"""Parameters shared by copgen:gapfill and copgen:generate, and their translation into a
plain :class:`FillRequest`. Names are a public contract (scripts, .model3 chains): never rename.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..errors import InputError
from ..fill import options
from ..fill.options import (
    CONDITIONS,
    DEVICES,
    LAYER_LABELS,
    LAYER_MODALITIES,
    LULC_NUMBERINGS,
    PRECISIONS,
    S1_SCALES,
    SPREAD_STATISTICS,
)
from ..fill.request import FillOutputs, FillRequest, GapSources, LayerInput
from .mask_parameters import (
    ProductOrRasterParameter,
    add_mask_parameters,
    gap_sources_from,
    input_product,
)

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_MODEL = "copgen-base"


def _range(field: str) -> dict[str, float]:
    """minValue/maxValue of a numeric parameter from the doors' shared bounds."""
    bound = options.BOUNDS[field]
    return {"minValue": bound.minimum, "maxValue": bound.maximum}


def _advanced(param: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return param


def _with_help(param: QgsProcessingParameterDefinition,
               text: str) -> QgsProcessingParameterDefinition:
    param.setHelp(text)
    return param


def add_fill_parameters(alg: QgsProcessingAlgorithm, *, generate: bool) -> None:
    """Declare every parameter and output of the two fill algorithms on `alg`."""
    add = alg.addParameter
    target = ("Reference layer (grid and extent of the generated rasters)" if generate
              else "Layer with gaps (nodata and/or mask)")
    input_param = (QgsProcessingParameterRasterLayer if generate
                   else ProductOrRasterParameter)("INPUT", target)
    add(_with_help(input_param,
                   "A GeoTIFF (or any GDAL file). Its CRS, transform and size are those of every "
                   "output." + ("" if generate else " Also a Sentinel-2 product as delivered: a "
                                "SAFE folder or .zip, a STAC item .json (local assets) or a "
                                "folder of band files, filled on its 10 m grid.")))
    add(_with_help(QgsProcessingParameterEnum(
        "INPUT_MODALITY", "Modality to generate" if generate else "Modality of the layer",
        options=list(LAYER_LABELS), defaultValue=0),
        "Which Copernicus product the layer holds (gap fill) or is to be generated."))
    add(_advanced(_with_help(QgsProcessingParameterString(
        "INPUT_BANDS", "Band mapping of the layer", optional=True),
        "Band names in file order ('B04,B03,B02,B08') or name:band pairs ('B02:1,B03:2'). "
        "Empty: the layer's band descriptions, else the product's standard order.")))
    if not generate:
        add(_with_help(QgsProcessingParameterRasterLayer("MASK", "Gap mask", optional=True),
                       "Non-zero = gap. Any grid (resampled by nearest neighbour). Without it, "
                       "the layer's nodata pixels are the gaps."))
        add(_advanced(_with_help(QgsProcessingParameterNumber(
            "INPUT_NODATA", "Nodata value of the layer (overrides the file's)",
            type=QgsProcessingParameterNumber.Double, optional=True),
            "Pixels with this value (in any band) are gaps. Empty: the file's nodata.")))
        add_mask_parameters(alg, _with_help, _advanced)
    for slot in CONDITIONS:
        add(_with_help(QgsProcessingParameterRasterLayer(
            slot.parameter, f"Condition: {options.label_of(slot.family)}", optional=True),
                       "Held clean while generating. Any CRS and resolution: read onto the "
                       "modality's native grid for each footprint."))
    add(_advanced(_with_help(QgsProcessingParameterEnum(
        "S1_SCALE", "Sentinel-1 values", options=["detect from the values", "dB",
                                                  "linear power"], defaultValue=0),
        "How the S1RTC layer (condition or target) stores backscatter.")))
    add(_advanced(_with_help(QgsProcessingParameterEnum(
        "LULC_CODES", "Land cover class numbering", options=list(LULC_NUMBERINGS),
        defaultValue=0), "COP-GEN uses the Esri 10 m land cover codes; TerraMind/TerraMesh "
        "rasters number the same classes 1..9 and are remapped.")))
    add(_advanced(_with_help(QgsProcessingParameterString(
        "CONDITION_BANDS", "Band mappings of condition layers", optional=True),
        "For condition layers not in their product's standard order and without band "
        "descriptions: 'S2L1C=B04,B03,B02,B08; S2L2A=B02:1,B03:2,...'.")))
    add(_with_help(QgsProcessingParameterString("DATE", "Acquisition date (YYYY-MM-DD)",
                                                optional=True),
                   "Conditions the season. Empty: taken from the layer's metadata if present, "
                   "otherwise generated by the model (not guessed)."))
    add(_advanced(_with_help(QgsProcessingParameterBoolean(
        "DATE_FROM_METADATA", "Without DATE, read the date from the layer's metadata",
        defaultValue=True), "Tags such as ACQUISITION_DATE or SENSING_TIME; the reported "
        "date source says what was used.")))
    add(_with_help(QgsProcessingParameterString("MODEL", "Model package (folder or model id)",
                                                defaultValue=DEFAULT_MODEL),
                   "A folder holding manifest.json, or the id of an installed package "
                   "(see copgen:download_model and copgen:diagnostics)."))
    add(_with_help(QgsProcessingParameterNumber("N_SAMPLES", "Number of samples",
                                                defaultValue=4, **_range("n_samples")),
                   "Plausible versions to generate; the spread is computed over them."))
    add(_with_help(QgsProcessingParameterNumber("STEPS", "Solver steps", defaultValue=50,
                                                **_range("steps")),
                   "DPM-Solver steps = network evaluations per sample (COP-GEN default 50)."))
    add(_with_help(QgsProcessingParameterNumber("SEED", "Random seed", defaultValue=1234,
                                                **_range("seed")),
                   "The same seed gives the same samples on the same device."))
    add(_with_help(QgsProcessingParameterEnum("DEVICE", "Device", options=list(DEVICES),
                                              defaultValue=0),
                   "auto: CUDA when ONNX Runtime has it, else CPU. The device actually used is "
                   "reported; a CUDA request that falls back to CPU says so."))
    add(_advanced(_with_help(QgsProcessingParameterEnum(
        "PRECISION", "Model precision (graph variant)", options=list(PRECISIONS),
        defaultValue=0),
        "auto: the package's variant made for the device actually used (fp16 with fused "
        "attention on CUDA, fp32 on the CPU); fp32 / fp16 force one. The variant used is "
        "reported.")))
    add(_with_help(QgsProcessingParameterNumber(
        "OVERLAP", "Footprint overlap (m)", type=QgsProcessingParameterNumber.Double,
        defaultValue=320.0, **_range("overlap_m")),
        "Overlap of neighbouring 1920 m footprints; each sample continues across edges."))
    add(_advanced(_with_help(QgsProcessingParameterNumber(
        "BATCH_SIZE", "Samples per denoiser call", defaultValue=4, **_range("batch_size")),
        "Bounds memory; results do not depend on it.")))
    add(_advanced(_with_help(QgsProcessingParameterNumber(
        "BATCH_ROWS", "Samples of several footprints per denoiser call (0 = automatic)",
        defaultValue=0, **_range("batch_rows")),
        "Footprints that do not overlap are generated together, up to this many samples per "
        "call (automatic: from the model's size and the device). Bounds memory; results do "
        "not depend on it.")))
    add(_advanced(_with_help(QgsProcessingParameterNumber(
        "THREADS", "CPU threads (0 = automatic)", defaultValue=0, **_range("threads")),
        "ONNX Runtime intra-op threads on the CPU.")))
    add(_advanced(_with_help(QgsProcessingParameterEnum(
        "SPREAD_STATISTIC", "Spread statistic", options=["standard deviation",
                                                         "range (max - min)",
                                                         "interquartile range"],
        defaultValue=0), "Per-pixel statistic over the samples written to SPREAD.")))
    add(_advanced(_with_help(QgsProcessingParameterBoolean(
        "HARMONISE", "Blend generated pixels into their surroundings", defaultValue=True),
        "Poisson blending of each sample at gap and footprint edges: no visible frame; the "
        "samples agree next to observed pixels and spread apart away from them.")))
    if not generate:
        sc = options.SELF_CHECK
        add(_advanced(_with_help(QgsProcessingParameterNumber(
            sc.parameter, sc.label, type=QgsProcessingParameterNumber.Double,
            defaultValue=sc.default, minValue=0.0, maxValue=1.0), sc.help)))
    accept = options.ACCEPT_UNUSUAL_VALUES
    add(_advanced(_with_help(QgsProcessingParameterBoolean(
        accept.parameter, accept.label, defaultValue=bool(accept.default)), accept.help)))
    add(_with_help(QgsProcessingParameterRasterDestination(
        "OUTPUT", "Generated layer" if generate else "Filled layer (ensemble mean in gaps)"),
        "Mean of the samples (classes: mode); gap fill: observed pixels untouched."))
    add(_with_help(QgsProcessingParameterRasterDestination(
        "SPREAD", "Spread (per-pixel uncertainty)"),
        "float32, one band per layer band, nodata outside the generated pixels."))
    add(_with_help(QgsProcessingParameterFolderDestination("SAMPLES", "Samples folder"),
                   "Receives sample_1.tif ... sample_N.tif."))
    alg.addOutput(QgsProcessingOutputMultipleLayers("OUTPUT_LAYERS", "All output layers"))
    alg.addOutput(QgsProcessingOutputString("DEVICE_USED", "Device actually used"))
    alg.addOutput(QgsProcessingOutputNumber("FOOTPRINTS", "Footprints generated"))


def _layer_path(alg: QgsProcessingAlgorithm, params: dict[str, Any], name: str,
                context: QgsProcessingContext) -> Path | None:
    """The file behind a raster parameter. A file path is taken as it is: loading it as a
    QgsRasterLayer would let QGIS compute histograms for its default renderer and store them
    in a ``.aux.xml`` beside the user's raster (under qgis_process, on every run)."""
    value = params.get(name)
    if isinstance(value, str) and value and Path(value).is_file():
        return Path(value)
    layer = alg.parameterAsRasterLayer(params, name, context)
    if layer is None:
        return None
    source = layer.source().split("|")[0]
    if layer.providerType() != "gdal" or not Path(source).is_file():
        raise QgsProcessingException(
            f"{name}: layer '{layer.name()}' is not a raster file GDAL can read ({source}); "
            "save it as a GeoTIFF (Export > Save As) and use that")
    return Path(source)


def _parsed(name: str, parse: Callable[[T], R], text: T) -> R:
    """One of the shared text parsers, its error naming the parameter."""
    try:
        return parse(text)
    except InputError as exc:
        raise QgsProcessingException(f"{name}: {exc}") from None


def build_request(alg: QgsProcessingAlgorithm, params: dict[str, Any],
                  context: QgsProcessingContext, *, generate: bool) -> FillRequest:
    """Parameters -> FillRequest; user errors become QgsProcessingException."""
    s1_scale = S1_SCALES[alg.parameterAsEnum(params, "S1_SCALE", context)]
    remap = options.parse_lulc_remap(
        "terramind" if alg.parameterAsEnum(params, "LULC_CODES", context) == 1 else None)

    def layer_input(path: Path, family: options.LayerModality, bands: str | None,
                    nodata: float | None = None) -> LayerInput:
        return LayerInput(path=path, modality=family, bands=bands, s1_scale=s1_scale,
                          code_remap=remap if family == "LULC" else None, nodata=nodata)

    target_path = (None if generate else input_product(alg, params, context)) or \
        _layer_path(alg, params, "INPUT", context)
    if target_path is None:
        raise QgsProcessingException("INPUT: a raster layer is required")
    family = LAYER_MODALITIES[alg.parameterAsEnum(params, "INPUT_MODALITY", context)]
    nodata = None
    if not generate and params.get("INPUT_NODATA") not in (None, ""):
        nodata = alg.parameterAsDouble(params, "INPUT_NODATA", context)
    bands = alg.parameterAsString(params, "INPUT_BANDS", context).strip() or None
    target = layer_input(target_path, family, bands, nodata)
    cond_bands = _parsed("CONDITION_BANDS", options.parse_condition_bands,
                         alg.parameterAsString(params, "CONDITION_BANDS", context))
    conditions = []
    for slot in CONDITIONS:
        path = _layer_path(alg, params, slot.parameter, context)
        if path is not None:
            if slot.family == family:
                raise QgsProcessingException(f"{slot.parameter} is the same modality as the "
                                             f"target ({family}): leave it empty")
            conditions.append(layer_input(path, slot.family, cond_bands.get(slot.family)))
    samples_dir = Path(alg.parameterAsString(params, "SAMPLES", context))
    outputs = FillOutputs(
        filled=Path(alg.parameterAsOutputLayer(params, "OUTPUT", context)),
        spread=Path(alg.parameterAsOutputLayer(params, "SPREAD", context)),
        samples_dir=samples_dir,
    )
    return FillRequest(
        mode="generate" if generate else "gapfill",
        target=target,
        outputs=outputs,
        model=alg.parameterAsString(params, "MODEL", context).strip() or DEFAULT_MODEL,
        conditions=tuple(conditions),
        mask=None if generate else _layer_path(alg, params, "MASK", context),
        date=_parsed("DATE", options.parse_date, alg.parameterAsString(params, "DATE", context)),
        date_from_metadata=alg.parameterAsBoolean(params, "DATE_FROM_METADATA", context),
        n_samples=alg.parameterAsInt(params, "N_SAMPLES", context),
        steps=alg.parameterAsInt(params, "STEPS", context),
        seed=alg.parameterAsInt(params, "SEED", context),
        device=DEVICES[alg.parameterAsEnum(params, "DEVICE", context)],
        precision=PRECISIONS[alg.parameterAsEnum(params, "PRECISION", context)],
        overlap_m=alg.parameterAsDouble(params, "OVERLAP", context),
        batch_size=alg.parameterAsInt(params, "BATCH_SIZE", context),
        batch_rows=alg.parameterAsInt(params, "BATCH_ROWS", context),
        threads=alg.parameterAsInt(params, "THREADS", context),
        spread_statistic=SPREAD_STATISTICS[alg.parameterAsEnum(params, "SPREAD_STATISTIC",
                                                               context)],
        harmonise=alg.parameterAsBoolean(params, "HARMONISE", context),
        gap_sources=GapSources() if generate else gap_sources_from(alg, params, context,
                                                                   _layer_path),
        self_check=0.0 if generate else _parsed(
            options.SELF_CHECK.parameter, options.parse_self_check,
            alg.parameterAsDouble(params, options.SELF_CHECK.parameter, context)),
        accept_unusual_values=alg.parameterAsBoolean(
            params, options.ACCEPT_UNUSUAL_VALUES.parameter, context),
    )
