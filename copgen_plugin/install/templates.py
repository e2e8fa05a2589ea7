"""Graph templates: package graphs whose weights are filled from checkpoints at install time.

A template folder (``resources/templates/<id>/`` or any folder) holds ``template.json`` and, per
precision variant, the package's ONNX graphs exactly as installed, every weight initializer
already stored as EXTERNAL data at a fixed offset in ``<graph>.onnx.data``. ``template.json``
lists, per graph, each external tensor: name, offset, length, dtype, shape, and where it comes
from (source = ``backbone`` or a VAE folder name; state-dict key; transform). Filling a graph is
copying its ``.onnx`` and writing the data file one tensor at a time: no protobuf editing and no
``onnx`` package. ``models/templates.py`` (torch) builds templates; docs/MODEL_PACKAGE.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import InstallError

TEMPLATE_FORMAT = "copgen-graph-template"
TEMPLATE_VERSION = 1
TEMPLATE_FILE = "template.json"
BACKBONE = "backbone"
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "resources" / "templates"
NUMPY_DTYPES: dict[str, np.dtype] = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2")}


@dataclass(frozen=True)
class TensorSlot:
    """One external initializer of a graph and the checkpoint tensor that fills it."""

    name: str
    offset: int
    length: int
    dtype: str
    shape: tuple[int, ...]
    source: str
    key: str
    transform: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class GraphTemplate:
    file: str
    data_file: str
    data_bytes: int
    tensors: tuple[TensorSlot, ...]


@dataclass(frozen=True)
class Template:
    """A parsed ``template.json``; ``root`` is its folder."""

    root: Path
    template_id: str
    config: str
    manifest: Mapping[str, Any]
    sources: Mapping[str, Mapping[str, tuple[int, ...]]]  # source -> key -> shape
    variants: Mapping[str, tuple[GraphTemplate, ...]]

    @property
    def vae_folders(self) -> list[str]:
        return sorted(s for s in self.sources if s != BACKBONE)

    def graphs(self, precision: str) -> tuple[GraphTemplate, ...]:
        try:
            return self.variants[precision]
        except KeyError:
            raise InstallError(f"template {self.template_id} has no {precision!r} variant "
                               f"(it has {sorted(self.variants)})") from None


def _safe_name(name: Any, where: str) -> str:
    """Template file names are plain names inside the folder (never paths elsewhere)."""
    if (not isinstance(name, str) or not name or name != PurePosixPath(name).name
            or name in (".", "..") or "\\" in name):
        raise InstallError(f"{where}: invalid file name {name!r}")
    return name


def resolve_template_dir(template: str | Path) -> Path:
    """A shipped template id (``copgen-base``) or a template folder path."""
    path = Path(template).expanduser()
    if (path / TEMPLATE_FILE).is_file():
        return path.resolve()
    shipped = SHIPPED_DIR / str(template)
    if isinstance(template, str) and "/" not in template and (shipped / TEMPLATE_FILE).is_file():
        return shipped
    known = sorted(p.name for p in SHIPPED_DIR.iterdir()) if SHIPPED_DIR.is_dir() else []
    raise InstallError(f"no graph template {str(template)!r}: neither a folder holding "
                       f"{TEMPLATE_FILE} nor a shipped template id (shipped: {known})")


def load_template(template: str | Path) -> Template:
    root = resolve_template_dir(template)
    where = str(root / TEMPLATE_FILE)
    try:
        data = json.loads((root / TEMPLATE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstallError(f"{where} is not readable JSON: {exc}") from exc
    if data.get("format") != TEMPLATE_FORMAT or data.get("format_version") != TEMPLATE_VERSION:
        raise InstallError(f"{where}: not a {TEMPLATE_FORMAT} v{TEMPLATE_VERSION} file")
    try:
        sources = {s: {k: tuple(int(d) for d in shape) for k, shape in keys.items()}
                   for s, keys in data["sources"].items()}
        variants = {}
        for precision, graphs in data["variants"].items():
            _safe_name(precision, where)
            variants[precision] = tuple(_graph(g, where) for g in graphs)
        return Template(root, str(data["template_id"]), str(data["config"]),
                        dict(data["manifest"]), sources, variants)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InstallError(f"{where}: malformed template ({exc!r})") from exc


def _graph(g: Mapping[str, Any], where: str) -> GraphTemplate:
    slots = tuple(
        TensorSlot(str(t["name"]), int(t["offset"]), int(t["length"]), str(t["dtype"]),
                   tuple(int(d) for d in t["shape"]), str(t["source"]), str(t["key"]),
                   tuple(dict(op) for op in t["transform"]))
        for t in g["tensors"])
    for slot in slots:
        if slot.dtype not in NUMPY_DTYPES:
            raise InstallError(f"{where}: {slot.name} has unsupported dtype {slot.dtype}")
    return GraphTemplate(_safe_name(g["file"], where), _safe_name(g["data_file"], where),
                         int(g["data_bytes"]), slots)


def apply_transform(values: np.ndarray, slot: TensorSlot) -> bytes:
    """State-dict tensor -> the initializer's bytes: transpose/reshape in order, then cast."""
    arr = values
    for op in slot.transform:
        if op["op"] == "transpose":
            arr = np.transpose(arr, tuple(op["perm"]))
        elif op["op"] == "reshape":
            arr = arr.reshape(tuple(op["shape"]))
        else:
            raise InstallError(f"unknown transform {op!r} for {slot.name}")
    arr = np.array(arr, dtype=np.float32).astype(NUMPY_DTYPES[slot.dtype], order="C")
    if arr.shape != slot.shape or arr.nbytes != slot.length:
        raise InstallError(f"{slot.name}: {slot.source}:{slot.key} gives {arr.shape}, the graph "
                           f"expects {slot.shape}")
    return arr.tobytes()


def fill_graph(template: Template, precision: str, graph: GraphTemplate, out_dir: Path,
               values: Callable[[str, str], np.ndarray],
               between: Callable[[TensorSlot], None] | None = None) -> list[Path]:
    """Write ``graph``'s ``.onnx`` and data file into ``out_dir``, one tensor at a time.

    ``values(source, key)`` returns one state-dict tensor; ``between`` runs before each tensor
    (progress, cancel).
    """
    src = template.root / precision / graph.file
    onnx_out, data_out = out_dir / graph.file, out_dir / graph.data_file
    with src.open("rb") as fin, onnx_out.open("wb") as fout:
        while block := fin.read(1 << 20):
            fout.write(block)
    with data_out.open("wb") as fh:
        for slot in sorted(graph.tensors, key=lambda s: s.offset):
            if between is not None:
                between(slot)
            fh.seek(slot.offset)
            fh.write(apply_transform(values(slot.source, slot.key), slot))
        fh.truncate(graph.data_bytes)
    return [onnx_out, data_out]
