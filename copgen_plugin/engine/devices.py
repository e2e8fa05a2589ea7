"""The device vocabulary (one home): what a caller may ask ONNX Runtime for.

Dependency-free, so the Processing layer can declare its DEVICE enumerations at load time.
"""

from __future__ import annotations

from typing import Literal

Device = Literal["auto", "cuda", "cpu"]
#: in enumeration order (the Processing DEVICE parameter's index)
DEVICES: tuple[Device, ...] = ("auto", "cuda", "cpu")
