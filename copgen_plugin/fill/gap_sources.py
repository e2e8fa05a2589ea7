"""Where a run's gaps come from besides nodata and a mask layer: plain values, no imports.

Both doors (Processing and the CLI) build a :class:`GapSources` from their parameters; the
vocabulary (mask sources, SCL classes and their names, defaults) has its one home here so that
the plugin can show it at load time without rasterio or ONNX Runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: MASK_SOURCE choices, in parameter order
MASK_SOURCES = ("nodata", "scl", "scl_product", "probability", "detector")
MASK_SOURCE_LABELS = (
    "Nodata and the mask layer only",
    "An SCL layer (Sentinel-2 L2A scene classification)",
    "The SCL of the input product (SAFE / STAC)",
    "A cloud-probability layer",
    "The offline cloud and shadow detector (ukis-csmask)",
)
#: Sentinel-2 L2A scene classification codes (ESA L2A product specification)
SCL_CLASS_NAMES: dict[int, str] = {
    0: "no data", 1: "saturated or defective", 2: "dark area pixels", 3: "cloud shadows",
    4: "vegetation", 5: "not vegetated", 6: "water", 7: "unclassified",
    8: "cloud medium probability", 9: "cloud high probability", 10: "thin cirrus",
    11: "snow or ice",
}
#: filled by default: cloud shadows, clouds (medium, high), thin cirrus, saturated/defective;
#: snow (11) and water (6) are surfaces, never gaps unless asked for
DEFAULT_SCL_CLASSES: tuple[int, ...] = (3, 8, 9, 10, 1)
DEFAULT_BUFFER_M = 60.0
#: a probability layer is a gap where its value is at least this share (0-1 scale)
DEFAULT_PROBABILITY_THRESHOLD = 0.5


@dataclass(frozen=True)
class GapSources:
    """Gap causes ORed with nodata and the mask layer.

    * ``scl``: an SCL layer; ``scl_from_product``: the SCL band of the input product.
    * ``probability`` + ``probability_threshold``: a cloud-probability layer in 0-100 or 0-1
      (detected from its values); the threshold is on the 0-1 scale (values above 1 are read
      as percent).
    * ``detector``: run the offline cloud and shadow detector on the target's bands.
    * ``buffer_m``: metres added around the cloud causes above (not around nodata or the mask
      layer, which are exact).
    """

    scl: Path | None = None
    scl_from_product: bool = False
    scl_classes: tuple[int, ...] = DEFAULT_SCL_CLASSES
    probability: Path | None = None
    probability_threshold: float = DEFAULT_PROBABILITY_THRESHOLD
    detector: bool = False
    buffer_m: float = DEFAULT_BUFFER_M

    @property
    def any_cloud_cause(self) -> bool:
        return bool(self.scl or self.scl_from_product or self.probability or self.detector)


def parse_scl_classes(text: str) -> tuple[int, ...]:
    """'3,8,9,10,1' -> (3, 8, 9, 10, 1); ValueError naming a code that is not an SCL class."""
    out: list[int] = []
    for item in text.replace(";", ",").replace(" ", ",").split(","):
        if not item.strip():
            continue
        try:
            code = int(item)
        except ValueError:
            raise ValueError(f"SCL class {item.strip()!r} is not a number; give codes such as "
                             "3,8,9,10,1") from None
        if code not in SCL_CLASS_NAMES:
            raise ValueError(f"SCL class {code} does not exist; classes are 0-11 "
                             f"({', '.join(f'{k} {v}' for k, v in SCL_CLASS_NAMES.items())})")
        if code not in out:
            out.append(code)
    if not out:
        raise ValueError("no SCL class given; the default is 3,8,9,10,1")
    return tuple(out)


def probability_threshold(value: float) -> float:
    """A threshold typed as a share (0.4) or a percentage (40) -> the 0-1 share."""
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"probability threshold {value:g} is outside 0-1 (or 0-100 %)")
    return value / 100.0 if value > 1.0 else value
