"""Read ``.safetensors`` files with the standard library and numpy (no extra dependency).

Layout: an 8-byte little-endian header length, a JSON header ``{name: {dtype, shape,
data_offsets}}`` (plus ``__metadata__``), then the tensor bytes, row-major and little-endian.
Tensors come back as lazy :class:`TensorRef` objects read with one seek each.
"""

from __future__ import annotations

import functools
import json
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .tensors import RAW_DTYPES, TensorRef, widen

SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
    "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}
MAX_HEADER = 100 * 1024 * 1024


def read_safetensors(path: Path) -> OrderedDict[str, TensorRef]:
    """The file's tensors by name, in header order; a malformed header is a clear error."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise CheckpointError(f"{path}: too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER, size - 8):
            raise CheckpointError(f"{path}: not a safetensors file (header length {n} for a "
                                  f"{size}-byte file): truncated or another format")
        try:
            header: dict[str, Any] = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: the safetensors header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the safetensors header is not a JSON object")
    base = 8 + n
    out: OrderedDict[str, TensorRef] = OrderedDict()
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = SAFETENSORS_DTYPES[meta["dtype"]]
            shape = tuple(int(s) for s in meta["shape"])
            start, end = (int(v) for v in meta["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: tensor {key!r} has an invalid or unsupported "
                                  f"header entry {meta!r:.120}") from exc
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - start != numel * RAW_DTYPES[dtype].itemsize or start < 0:
            raise CheckpointError(f"{path}: tensor {key!r}: offsets {start}..{end} do not fit "
                                  f"{dtype} {list(shape)}")
        if base + end > size:
            raise CheckpointError(f"{path}: tensor {key!r} ends at byte {base + end}, the file "
                                  f"has {size}: it is truncated; download it again")
        out[key] = TensorRef(path, key, dtype, shape,
                             functools.partial(_read, path, base + start, dtype, shape))
    return out


def _read(path: Path, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    raw = RAW_DTYPES[dtype]
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    with path.open("rb") as fh:
        fh.seek(offset)
        buf = fh.read(numel * raw.itemsize)
    if len(buf) != numel * raw.itemsize:
        raise CheckpointError(f"{path}: cut short while reading a tensor: the file is truncated")
    return widen(np.frombuffer(buf, raw).reshape(shape).copy(), dtype)
