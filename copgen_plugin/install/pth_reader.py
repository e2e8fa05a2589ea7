"""Read PyTorch zip checkpoints (``torch.save``) without torch and without running pickle code.

A ``.pth`` is a zip: ``<archive>/data.pkl`` names the tensors, ``<archive>/data/<n>`` hold their
raw storages. The pickle is read by a restricted unpickler that resolves only the tensor-rebuild
functions, ``collections.OrderedDict`` and the storage types (inside persistent ids); any other
global is refused with an error naming the file and the global, before anything is called.
Tensors come back as lazy :class:`TensorRef` objects that read their bytes from the zip member
on demand, so memory stays at one tensor whatever the checkpoint size.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .tensors import RAW_DTYPES, TensorRef, widen

#: ``torch.<Name>Storage`` -> storage dtype name
STORAGE_TYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
REBUILD_FUNCTIONS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter")}


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: str
    numel: int


def _rebuild_tensor_v2(storage: Any, offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], *_: Any) -> _TensorSpec:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("_rebuild_tensor_v2 without a storage")
    return _TensorSpec(storage, int(offset), tuple(int(s) for s in size),
                       tuple(int(s) for s in stride))


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


@dataclass(frozen=True)
class _TensorSpec:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allowed globals; never imports a module or calls foreign code."""

    def __init__(self, data: bytes, source: Path) -> None:
        super().__init__(io.BytesIO(data))
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in REBUILD_FUNCTIONS:
            return {"_rebuild_tensor_v2": _rebuild_tensor_v2,
                    "_rebuild_parameter": _rebuild_parameter}[name]
        if module == "torch" and name in STORAGE_TYPES:
            return _StorageType(STORAGE_TYPES[name])
        raise CheckpointError(
            f"{self.source}: refused to load the global {module}.{name}: only tensors and plain "
            "containers are read from a weight file (this file is not a plain state dict, or it "
            "carries code); nothing in it was executed"
        )

    def persistent_load(self, pid: Any) -> _Storage:
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.source}: unexpected persistent id {pid!r:.80}")
        return _Storage(str(pid[2]), pid[1].dtype, int(pid[4]))


class PthFile:
    """An open PyTorch zip checkpoint: ``load()`` gives the object tree with lazy tensors."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.zip = zipfile.ZipFile(self.path)
            names = self.zip.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise CheckpointError(
                f"{self.path}: not a readable PyTorch checkpoint (truncated or corrupt zip: "
                f"{exc}); download it again") from exc
        pkl = sorted((n for n in names if n == "data.pkl" or n.endswith("/data.pkl")), key=len)
        if not pkl:
            self.zip.close()
            raise CheckpointError(f"{self.path}: a zip without data.pkl is not a PyTorch "
                                  "checkpoint")
        self.prefix = pkl[0][: -len("data.pkl")]
        order = self._member("byteorder", required=False)
        self.big_endian = order is not None and order.strip() == b"big"

    def _member(self, name: str, required: bool = True) -> bytes | None:
        try:
            return self.zip.read(self.prefix + name)
        except KeyError:
            if required:
                raise CheckpointError(f"{self.path}: member {self.prefix + name} is missing "
                                      "(truncated or corrupt checkpoint)") from None
            return None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: cannot read {name} (truncated or corrupt "
                                  f"checkpoint: {exc}); download it again") from exc

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> PthFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def load(self) -> Any:
        """The unpickled tree: dicts, lists, scalars, and :class:`TensorRef` for tensors."""
        data = self._member("data.pkl")
        assert data is not None
        try:
            tree = _RestrictedUnpickler(data, self.path).load()
        except CheckpointError:
            raise
        except Exception as exc:  # malformed pickle stream
            raise CheckpointError(f"{self.path}: data.pkl is not a readable pickle ({exc})"
                                  ) from exc
        return self._resolve(tree, "")

    def _resolve(self, obj: Any, key: str) -> Any:
        if isinstance(obj, _TensorSpec):
            return self._ref(obj, key)
        if isinstance(obj, dict):
            return type(obj)((k, self._resolve(v, f"{key}.{k}" if key else str(k)))
                             for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return type(obj)(self._resolve(v, f"{key}[{i}]") for i, v in enumerate(obj))
        return obj

    def _ref(self, spec: _TensorSpec, key: str) -> TensorRef:
        if spec.storage.dtype not in RAW_DTYPES:
            raise CheckpointError(f"{self.path}: tensor {key} has unsupported dtype "
                                  f"{spec.storage.dtype}")
        return TensorRef(self.path, key, spec.storage.dtype, spec.shape,
                         lambda: self._read(spec, key))

    def _read(self, spec: _TensorSpec, key: str) -> np.ndarray:
        raw_dtype = RAW_DTYPES[spec.storage.dtype]
        if self.big_endian:
            raw_dtype = raw_dtype.newbyteorder(">")
        item = raw_dtype.itemsize
        numel = int(np.prod(spec.shape, dtype=np.int64)) if spec.shape else 1
        span = (1 + sum((n - 1) * s for n, s in zip(spec.shape, spec.stride, strict=True))
                if numel else 0)
        if spec.offset + span > spec.storage.numel:
            raise CheckpointError(f"{self.path}: tensor {key} lies outside its storage")
        name = f"{self.prefix}data/{spec.storage.key}"
        try:
            with self.zip.open(name) as fh:
                fh.seek(spec.offset * item)
                buf = fh.read(span * item)
        except KeyError:
            raise CheckpointError(f"{self.path}: storage {name} of tensor {key} is missing "
                                  "(truncated or corrupt checkpoint)") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: cannot read tensor {key} (truncated or "
                                  f"corrupt checkpoint: {exc}); download it again") from exc
        if len(buf) != span * item:
            raise CheckpointError(f"{self.path}: tensor {key} is cut short ({len(buf)} of "
                                  f"{span * item} bytes): the file is truncated")
        flat = np.frombuffer(buf, raw_dtype)
        if numel == 0:
            arr = flat[:0].reshape(spec.shape)
        else:
            arr = np.lib.stride_tricks.as_strided(
                flat, spec.shape, tuple(s * item for s in spec.stride))
        arr = np.array(arr, dtype=raw_dtype.newbyteorder("="), order="C")  # keeps 0-d shapes
        return widen(arr, spec.storage.dtype)
