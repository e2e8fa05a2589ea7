"""The device vocabulary (one home): what a caller may ask ONNX Runtime for, and in which
precision (which graph variant of the package; ``auto`` = the one made for the device got).

Dependency-free, so the Processing layer can declare its DEVICE enumerations at load time.
"""

from __future__ import annotations

from typing import Literal

Device = Literal["auto", "cuda", "cpu"]
#: in enumeration order (the Processing DEVICE parameter's index)
DEVICES: tuple[Device, ...] = ("auto", "cuda", "cpu")

Precision = Literal["auto", "fp32", "fp16"]
#: in enumeration order (the Processing PRECISION parameter's index)
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "fp16")
