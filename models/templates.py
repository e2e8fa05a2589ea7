"""Build graph templates (copgen_plugin/install/templates.py) with the project's torch export.

For each precision the package is exported by ``models.package.export_package`` (the code that
makes every package) from modules whose weights are all distinct random values; each initializer
of each graph is then traced back to the state-dict key and transform (identity, reshape,
transpose, cast) it came from by matching values, and turned into an EXTERNAL reference at a
fixed offset of ``<graph>.onnx.data``. An unmatched float initializer over ``INLINE_MAX`` bytes is
a build error; smaller ones (constants the export creates) stay inline. The result is checked:
a second export with other random weights must equal the template filled with those weights
(inline constants byte for byte, every graph's ORT outputs).

CLI: ``python -m models.templates --config base --out resources/templates/copgen-base``
(``make templates``).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

from copgen_plugin.install.templates import (
    BACKBONE,
    TEMPLATE_FILE,
    TEMPLATE_FORMAT,
    TEMPLATE_VERSION,
    fill_graph,
    load_template,
)
from models.autoencoder import AutoencoderKL
from models.configs import ModalityConfig, get_size, select_modalities
from models.denoiser import CopgenUViT
from models.export import DEFAULT_PROVENANCE
from models.manifest import DENOISER_FILE, MANIFEST, ManifestInfo, decoder_file, encoder_file
from models.onnx_export import ExportOptions
from models.package import export_package

log = logging.getLogger(__name__)

INLINE_MAX = 64 * 1024  # bytes: larger unmatched float initializers are a build error
ALIGN = 4096
PRECISIONS = ("fp32", "fp16")
ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}


class TemplateBuildError(RuntimeError):
    """An initializer cannot be traced to a checkpoint tensor, or the check failed."""


@torch.no_grad()
def init_distinct(module: nn.Module, seed: int) -> None:
    """Every parameter random and distinct (norms too), scaled so outputs stay finite."""
    gen = torch.Generator().manual_seed(seed)
    for name, param in module.named_parameters():
        noise = torch.randn(param.shape, generator=gen)
        if param.dim() >= 2:
            param.copy_(noise / math.sqrt(param[0].numel()))
        elif name.endswith("weight"):
            param.copy_(1.0 + 0.1 * noise)
        else:
            param.copy_(0.1 * noise)


def _stream(seed: int, name: str) -> int:
    return seed * 1_000_003 + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def random_backbone(config: str, specs: Sequence[ModalityConfig], seed: int) -> CopgenUViT:
    model = CopgenUViT(get_size(config).backbone(specs))
    init_distinct(model, _stream(seed, BACKBONE))
    return model.eval()


def random_vae(config: str, spec: ModalityConfig, seed: int) -> AutoencoderKL:
    vae = AutoencoderKL(get_size(config).vae(spec), spec.scale_factor or 1.0)
    init_distinct(vae, _stream(seed, spec.key))
    return vae.eval()


def _numpy_state(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().float().numpy() for k, v in module.state_dict().items()}


def _export(out: Path, config: str, specs: list[ModalityConfig], seed: int, fp16: bool,
            opset: int) -> dict[str, Any]:
    prov = DEFAULT_PROVENANCE[config]
    info = ManifestInfo(prov.model_id, prov.model_version, prov.title, prov.licence, prov.source,
                       config, {}, extra=dict(prov.extra))
    vaes = {s.key: (lambda s=s: random_vae(config, s, seed)) for s in specs if s.is_image}
    export_package(out, lambda: random_backbone(config, specs, seed), vaes, info,
                   ExportOptions(opset=opset, fp16=fp16), specs={s.key: s for s in specs})
    return json.loads((out / MANIFEST).read_text())


def graph_sources(specs: Iterable[ModalityConfig]) -> dict[str, tuple[str, str]]:
    """Package graph file -> (source name, modality key or '') for the denoiser and VAEs."""
    out = {DENOISER_FILE: (BACKBONE, "")}
    for s in specs:
        if s.is_image:
            out[encoder_file(s.key)] = (str(s.vae_folder), s.key)
            out[decoder_file(s.key)] = (str(s.vae_folder), s.key)
    return out


class Matcher:
    """Find (key, transform) of an initializer in one state dict by its values."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self._index: dict[str, dict[bytes, list[str]]] = {}

    @staticmethod
    def _digest(arr: np.ndarray) -> bytes:
        """Order-free fingerprint; + 0 turns -0.0 into 0.0, which sort would order at random
        (fp16 casts round a few tiny weights to signed zeros)."""
        return hashlib.sha1(np.sort(arr.ravel() + arr.dtype.type(0)).tobytes()).digest()

    def _by_digest(self, dtype: str) -> dict[bytes, list[str]]:
        if dtype not in self._index:
            index: dict[bytes, list[str]] = {}
            for key, value in self.state.items():
                index.setdefault(self._digest(value.astype(dtype)), []).append(key)
            self._index[dtype] = index
        return self._index[dtype]

    def match(self, arr: np.ndarray) -> tuple[str, list[dict[str, Any]]] | None:
        found = []
        for key in self._by_digest(str(arr.dtype)).get(self._digest(arr), []):
            transform = _transform(self.state[key].astype(arr.dtype), arr)
            if transform is not None:
                found.append((key, transform))
        if len(found) > 1:
            raise TemplateBuildError(f"ambiguous: {[k for k, _ in found]} all match")
        return found[0] if found else None


def _transform(src: np.ndarray, dst: np.ndarray) -> list[dict[str, Any]] | None:
    if src.size != dst.size:
        return None
    for perm in itertools.permutations(range(src.ndim)):
        moved = np.transpose(src, perm)
        if np.array_equal(moved.ravel(), dst.ravel()):
            ops: list[dict[str, Any]] = []
            if list(perm) != sorted(perm):
                ops.append({"op": "transpose", "perm": list(perm)})
            if moved.shape != dst.shape:
                ops.append({"op": "reshape", "shape": list(dst.shape)})
            return ops
    return None


def template_graph(src: Path, dst: Path, source: str, state: dict[str, np.ndarray]
                   ) -> tuple[dict[str, Any], int]:
    """Write ``src`` with every weight external (offsets in ``<name>.data``); return its entry
    and the number of float initializers kept inline."""
    model = onnx.load(str(src))
    matcher = Matcher(state)
    data_file = dst.name + ".data"
    tensors, offset, kept = [], 0, 0
    for init in model.graph.initializer:
        if init.data_type not in ONNX_DTYPES:
            continue
        arr = numpy_helper.to_array(init)
        found = matcher.match(arr)
        if found is None:
            if arr.nbytes > INLINE_MAX:
                raise TemplateBuildError(f"{src.name}: initializer {init.name} {list(arr.shape)} "
                                         f"({arr.nbytes} bytes) matches no {source} tensor")
            log.info("%s: %s %s kept inline", src.name, init.name, list(arr.shape))
            kept += 1
            continue
        key, transform = found
        offset = -(-offset // ALIGN) * ALIGN
        tensors.append({"name": init.name, "offset": offset, "length": arr.nbytes,
                        "dtype": ONNX_DTYPES[init.data_type], "shape": list(arr.shape),
                        "source": source, "key": key, "transform": transform})
        for field in ("raw_data", "float_data", "int32_data", "external_data"):
            init.ClearField(field)
        for k, v in (("location", data_file), ("offset", str(offset)),
                     ("length", str(arr.nbytes))):
            entry = init.external_data.add()
            entry.key, entry.value = k, v
        init.data_location = onnx.TensorProto.EXTERNAL
        offset += arr.nbytes
    onnx.save_model(model, str(dst))
    return {"file": dst.name, "data_file": data_file, "data_bytes": offset,
            "tensors": tensors}, kept


def random_feeds(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """One random input per graph input (batch 1; timesteps in 0..1000)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in ort_session(path).get_inputs():
        shape = [1 if not isinstance(d, int) else d for d in inp.shape]
        if inp.name.startswith("t_"):
            feeds[inp.name] = rng.uniform(0, 1000, shape).astype(np.float32)
        else:
            feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def max_output_diff(a: Path, b: Path, seed: int = 0) -> float:
    """Max abs difference of two graphs' outputs on the same random inputs (real ORT runs)."""
    feeds = random_feeds(a, seed)
    out_a = ort_session(a).run(None, feeds)
    out_b = ort_session(b).run(None, feeds)
    pairs = zip(out_a, out_b, strict=True)
    return max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in pairs)


def build_template(out_dir: Path, config: str = "base", *, modalities: Sequence[str] | None = None,
                   precisions: Sequence[str] = PRECISIONS, seed: int = 1, check_seed: int = 2,
                   opset: int = 17, template_id: str | None = None, add: bool = False) -> Path:
    """Export, trace, check and write a template folder (replaced atomically); ``add`` keeps
    the variants of an existing template that are not rebuilt."""
    specs = select_modalities(modalities)
    sources = graph_sources(specs)
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    try:
        skeleton: dict[str, Any] | None = None
        variants: dict[str, list[dict[str, Any]]] = {}
        key_tables: dict[str, dict[str, list[int]]] = {}
        if add and (out_dir / TEMPLATE_FILE).is_file():  # keep the variants not rebuilt
            old = json.loads((out_dir / TEMPLATE_FILE).read_text())
            skeleton, key_tables = old["manifest"], old["sources"]
            for precision, graphs in old["variants"].items():
                if precision not in precisions:
                    variants[precision] = graphs
                    shutil.copytree(out_dir / precision, staging / precision)
        for precision in precisions:
            with tempfile.TemporaryDirectory(prefix="copgen-template-") as tmp:
                work = Path(tmp)
                fp16 = precision == "fp16"
                manifest = _export(work / "a", config, specs, seed, fp16, opset)
                (staging / precision).mkdir()
                graphs, inline = [], 0
                states = _state_loader(config, specs, seed)
                for name, (source, _key) in sources.items():
                    state = states(source)
                    key_tables[source] = {k: list(v.shape) for k, v in state.items()}
                    graph, kept = template_graph(work / "a" / name, staging / precision / name,
                                                 source, state)
                    graphs.append(graph)
                    inline += kept
                    del state
                variants[precision] = graphs
                body = {k: v for k, v in manifest.items()
                        if k not in ("files", "weights", "precision")}
                if skeleton is not None and skeleton != body:
                    raise TemplateBuildError("fp32 and fp16 exports disagree on the manifest")
                skeleton = body
                _write_json(staging, template_id or str(body["model_id"]), config, skeleton,
                            key_tables, variants)
                if inline:  # constants kept inline: prove they do not depend on the weights
                    shutil.rmtree(work / "a")
                    _export(work / "a", config, specs, check_seed, fp16, opset)
                    states = _state_loader(config, specs, check_seed)
                check_template(staging, precision, work / "a", states)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.chmod(0o755)
        staging.rename(out_dir)
        return out_dir
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _state_loader(config: str, specs: list[ModalityConfig], seed: int
                  ) -> Callable[[str], dict[str, np.ndarray]]:
    by_folder = {str(s.vae_folder): s for s in specs if s.is_image}

    def load(source: str) -> dict[str, np.ndarray]:
        if source == BACKBONE:
            return _numpy_state(random_backbone(config, specs, seed))
        return _numpy_state(random_vae(config, by_folder[source], seed))
    return load


def _write_json(root: Path, template_id: str, config: str, manifest: dict[str, Any],
                key_tables: dict[str, Any], variants: dict[str, Any]) -> None:
    data = {"format": TEMPLATE_FORMAT, "format_version": TEMPLATE_VERSION,
            "template_id": template_id, "config": config, "manifest": manifest,
            "sources": key_tables, "variants": variants}
    (root / TEMPLATE_FILE).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def check_template(root: Path, precision: str, ref: Path,
                   states: Callable[[str], dict[str, np.ndarray]]) -> None:
    """The template filled with the weights of the export ``ref`` must give ``ref``'s outputs
    (and, when it keeps constants inline, the same constants)."""
    tpl = load_template(root)
    filled = ref.parent / f"{ref.name}-filled"
    filled.mkdir()
    for graph in tpl.graphs(precision):
        state = states(graph.tensors[0].source if graph.tensors else BACKBONE)
        fill_graph(tpl, precision, graph, filled, lambda _s, k, st=state: st[k])
        del state
        inline_a = _inline(filled / graph.file)
        inline_b = _inline(ref / graph.file, only=set(inline_a))
        for name, value in inline_a.items():
            if name not in inline_b or not np.array_equal(value, inline_b[name]):
                raise TemplateBuildError(f"{graph.file}: inline constant {name} depends on the "
                                         "weights: it must be traced to a checkpoint tensor")
        diff = max_output_diff(ref / graph.file, filled / graph.file)
        log.info("%s %s: filled template vs torch export, max abs diff %.3g", precision,
                 graph.file, diff)
        if diff > 1e-6:
            raise TemplateBuildError(f"{graph.file}: filled template differs from the torch "
                                     f"export by {diff}")
        for f in (filled / graph.file, filled / graph.data_file, ref / graph.file):
            f.unlink()
    shutil.rmtree(ref)
    shutil.rmtree(filled)


def _inline(path: Path, only: set[str] | None = None) -> dict[str, np.ndarray]:
    model = onnx.load(str(path), load_external_data=False)
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
            if t.data_location != onnx.TensorProto.EXTERNAL and (only is None or t.name in only)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.templates", description=__doc__)
    parser.add_argument("--config", default="base", choices=["base", "large", "huge", "tiny"])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--modalities", nargs="+", default=None, metavar="KEY")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--template-id", default=None)
    parser.add_argument("--add", action="store_true",
                        help="keep the existing template's other precision variants")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = build_template(args.out, args.config, modalities=args.modalities,
                         precisions=args.precisions, template_id=args.template_id,
                         add=args.add)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
