"""copgen:gapfill's cloud parameters (MASK_SOURCE, SCL, PROBABILITY, MASK_BUFFER ...) and an
INPUT that also takes a Sentinel-2 product as delivered (SAFE folder or zip, STAC item).

Names are a public contract (scripts, .model3 chains): never rename.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..errors import InputError
from ..fill.options import (
    DEFAULT_BUFFER_M,
    DEFAULT_PROBABILITY_THRESHOLD,
    DEFAULT_SCL_CLASSES,
    MASK_SOURCE_LABELS,
    MASK_SOURCES,
    parse_scl_classes,
    probability_threshold,
)
from ..fill.request import GapSources

_PRODUCT_SUFFIXES = (".zip", ".json", ".xml")


def _product_path(value: Any) -> Path | None:
    """A string value naming a product (folder, .zip, STAC .json, MTD .xml), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    p = Path(value.strip())
    if p.is_dir() or (p.is_file() and p.suffix.lower() in _PRODUCT_SUFFIXES):
        return p
    return None


class ProductOrRasterParameter(QgsProcessingParameterRasterLayer):
    """A raster layer parameter that also accepts the path of a Sentinel-2 product, which QGIS
    cannot load as one layer (its bands sit in several files at 10, 20 and 60 m)."""

    def clone(self) -> ProductOrRasterParameter:
        copy = ProductOrRasterParameter(self.name(), self.description(), self.defaultValue(),
                                        self.flags() & QgsProcessingParameterDefinition.FlagOptional
                                        != 0)
        copy.setFlags(self.flags())
        copy.setHelp(self.help())
        return copy

    def checkValueIsAcceptable(self, value: Any, context: QgsProcessingContext | None = None
                               ) -> bool:
        if _product_path(value) is not None:
            return True
        return super().checkValueIsAcceptable(value, context)


_SUBDATASET = re.compile(r"^SENTINEL2_L[12][AC]:(?P<mtd>.+):(?:10|20|60)m:[^:]*$")


def product_of_layer(source: str) -> Path | None:
    """The product behind a layer QGIS opened from it (a SENTINEL2 driver subdataset such as
    ``SENTINEL2_L2A:/vsizip//data/S2A_....zip/S2A_....SAFE/MTD_MSIL2A.xml:10m:EPSG_32633``)."""
    m = _SUBDATASET.match(source.strip().strip('"'))
    if m is None:
        return None
    mtd = m.group("mtd").strip('"')
    if mtd.startswith("/vsizip/"):
        inner = mtd[len("/vsizip/"):]
        cut = inner.lower().find(".zip")
        return Path(inner[:cut + 4]) if cut >= 0 else None
    return Path(mtd)


def input_product(alg: QgsProcessingAlgorithm, params: dict[str, Any],
                  context: QgsProcessingContext, name: str = "INPUT") -> Path | None:
    """The product given as ``name``: its path, or a layer opened from one of its
    subdatasets (the product, not the one resolution QGIS shows, is filled)."""
    path = _product_path(params.get(name))
    if path is not None:
        return path
    layer = alg.parameterAsRasterLayer(params, name, context)
    return product_of_layer(layer.source()) if layer is not None else None


def add_mask_parameters(alg: QgsProcessingAlgorithm, with_help: Any, advanced: Any) -> None:
    """MASK_SOURCE and its layers, classes, threshold and buffer (gap fill only)."""
    add = alg.addParameter
    add(with_help(QgsProcessingParameterEnum(
        "MASK_SOURCE", "Clouds and shadows to fill", options=list(MASK_SOURCE_LABELS),
        defaultValue=0),
        "Besides nodata and the mask layer: an SCL layer (or, without one, the SCL of a "
        "SAFE / STAC input), a cloud-probability layer, or the offline detector (ukis-csmask, "
        "for L1C or scenes without SCL). All causes are ORed; the log gives the masked "
        "fraction by cause."))
    add(with_help(QgsProcessingParameterRasterLayer("SCL", "SCL layer", optional=True),
                  "Sentinel-2 L2A scene classification (20 m). Any grid: codes are carried by "
                  "nearest neighbour, never blended."))
    add(with_help(QgsProcessingParameterString(
        "SCL_CLASSES", "SCL classes to fill",
        defaultValue=",".join(map(str, DEFAULT_SCL_CLASSES))),
        "3 cloud shadows, 8/9 cloud medium/high probability, 10 thin cirrus, 1 saturated or "
        "defective. Snow (11) and water (6) are never gaps unless listed."))
    add(with_help(QgsProcessingParameterRasterLayer("PROBABILITY", "Cloud-probability layer",
                                                    optional=True),
                  "0-1 or 0-100 (detected from the values), e.g. the L2A MSK_CLDPRB or "
                  "s2cloudless."))
    add(with_help(QgsProcessingParameterNumber(
        "PROBABILITY_THRESHOLD", "Probability threshold",
        type=QgsProcessingParameterNumber.Double, defaultValue=DEFAULT_PROBABILITY_THRESHOLD,
        minValue=0.0, maxValue=100.0),
        "Gap where the probability is at least this (0-1; values above 1 are percent)."))
    add(with_help(QgsProcessingParameterNumber(
        "MASK_BUFFER", "Buffer around clouds and shadows (m)",
        type=QgsProcessingParameterNumber.Double, defaultValue=DEFAULT_BUFFER_M, minValue=0.0,
        maxValue=5000.0),
        "Grows the cloud masks by this distance (a disk): cloud edges and faint shadows are "
        "filled too. 0: the masks as they are."))


def gap_sources_from(alg: QgsProcessingAlgorithm, params: dict[str, Any],
                     context: QgsProcessingContext, layer_path: Any) -> GapSources:
    """The parameters -> GapSources; a layer given for a source not chosen is an error."""
    source = MASK_SOURCES[alg.parameterAsEnum(params, "MASK_SOURCE", context)]
    scl = layer_path(alg, params, "SCL", context)
    prob = layer_path(alg, params, "PROBABILITY", context)
    if scl is not None and source != "scl":
        raise QgsProcessingException(f"SCL is set but MASK_SOURCE is {source!r}: choose 'An SCL "
                                     "layer' (1) or leave SCL empty")
    if prob is not None and source != "probability":
        raise QgsProcessingException(f"PROBABILITY is set but MASK_SOURCE is {source!r}: "
                                     "choose the probability source or leave it empty")
    if source == "probability" and prob is None:
        raise QgsProcessingException("MASK_SOURCE is a cloud-probability layer: set PROBABILITY")
    try:
        classes = parse_scl_classes(alg.parameterAsString(params, "SCL_CLASSES", context))
        threshold = probability_threshold(
            alg.parameterAsDouble(params, "PROBABILITY_THRESHOLD", context))
    except InputError as exc:
        raise QgsProcessingException(f"SCL_CLASSES / PROBABILITY_THRESHOLD: {exc}") from None
    return GapSources(
        scl=scl,
        scl_from_product=source == "scl_product" or (source == "scl" and scl is None),
        scl_classes=classes, probability=prob, probability_threshold=threshold,
        detector=source == "detector",
        buffer_m=alg.parameterAsDouble(params, "MASK_BUFFER", context))
