"""A lazy reference to one tensor in a weight file, read into numpy only when asked.

Both checkpoint readers (PyTorch zip ``.pth``, ``.safetensors``) hand out these, so the installer
holds one tensor in memory at a time whatever the file size. bfloat16, which numpy lacks, is
widened to float32 exactly (its 16 bits are the top half of a float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: storage dtype name -> (numpy dtype of the raw bytes, bytes per element)
RAW_DTYPES: dict[str, np.dtype] = {
    "float64": np.dtype("<f8"), "float32": np.dtype("<f4"), "float16": np.dtype("<f2"),
    "bfloat16": np.dtype("<u2"), "int64": np.dtype("<i8"), "int32": np.dtype("<i4"),
    "int16": np.dtype("<i2"), "int8": np.dtype("i1"), "uint8": np.dtype("u1"),
    "bool": np.dtype("?"),
}
FLOAT_DTYPES = frozenset({"float64", "float32", "float16", "bfloat16"})


def widen(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Raw storage values -> numpy values (bfloat16 -> float32, exact)."""
    if dtype == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw


@dataclass(frozen=True)
class TensorRef:
    """dtype (``float32``, ``bfloat16``...), shape, and a reader returning a C-order array."""

    file: Path
    key: str
    dtype: str
    shape: tuple[int, ...]
    reader: Callable[[], np.ndarray]

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def read(self) -> np.ndarray:
        """The values (bfloat16 widened to float32) with this reference's shape."""
        return self.reader()
