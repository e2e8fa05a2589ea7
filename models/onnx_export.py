"""Torch modules -> the ONNX graphs of a model package (names fixed by docs/MODEL_PACKAGE.md).

The exporter works on in-memory modules, so the official checkpoints, the tiny random packages
and a future demo trainer all go through the same code. Default: the TorchScript exporter at
opset 17 (0.5 s for the tiny denoiser against ~8 s for the dynamo exporter, same ORT results).
The GPU variant (:data:`GPU_VARIANT`) is the dynamo exporter at opset 23 with fp16 weights:
``scaled_dot_product_attention`` becomes the ONNX ``Attention`` operator (a fused kernel in
ONNX Runtime), constants are folded and every shape is static except the batch, so no node runs
on the CPU under CUDA (:func:`check_gpu_graph`). Inputs and outputs stay float32 even with fp16
weights, so the run-time side never needs to know the precision.
"""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import Tensor, nn

from models.autoencoder import AutoencoderKL
from models.denoiser import CopgenUViT

log = logging.getLogger(__name__)

PROTOBUF_LIMIT = 2 * 1024**3
EXTERNAL_DATA_THRESHOLD = int(1.8 * 1024**3)  # leave room for the graph itself
BATCH = "batch"


@dataclass(frozen=True)
class ExportOptions:
    """opset; fp16 weights (GPU use); external data (None = only when a graph passes ~1.8 GB)."""

    opset: int = 17
    fp16: bool = False
    external_data: bool | None = None
    exporter: str = "torchscript"  # or "dynamo"

    @property
    def precision(self) -> str:
        return "fp16" if self.fp16 else "fp32"

    @property
    def effective_opset(self) -> int:
        """The opset written: the dynamo exporter needs at least 18."""
        return max(self.opset, 18) if self.exporter == "dynamo" else self.opset


#: the CUDA variant of a package's denoiser (docs/MODEL_PACKAGE.md "Variants")
GPU_VARIANT = ExportOptions(opset=23, fp16=True, exporter="dynamo")
#: ops that compute shapes at run time; under CUDA they sit on the CPU (Memcpy nodes) and
#: forbid CUDA graphs, so the GPU variant must have none
SHAPE_OPS = frozenset({"Shape", "Size", "ConstantOfShape", "Range", "NonZero", "If", "Loop"})


class DenoiserGraph(nn.Module):
    """``forward(z_0..z_{n-1}, t_0..t_{n-1})`` flat, as the ONNX exporters want positional args."""

    def __init__(self, model: CopgenUViT) -> None:
        super().__init__()
        self.model = model
        self.n = len(model.config.modalities)

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        dtype = self.model.pos_embed.dtype
        latents = [a.to(dtype) for a in args[: self.n]]
        outs = self.model(latents, list(args[self.n :]))
        return tuple(o.float() for o in outs)


class EncoderGraph(nn.Module):
    """image (network space) -> moments (mean, logvar), no sampling: the run-time side samples."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, image: Tensor) -> Tensor:
        dtype = self.vae.quant_conv.weight.dtype
        return self.vae.encode_moments(image.to(dtype)).float()


class DecoderGraph(nn.Module):
    """latent in diffusion units -> image; includes x(1/scale_factor) and post_quant_conv."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent: Tensor) -> Tensor:
        dtype = self.vae.post_quant_conv.weight.dtype
        return self.vae.decode(latent.to(dtype)).float()


def _example_batch(options: ExportOptions, batch: int) -> int:
    """torch.export specialises size-1 dims, so the dynamo exporter needs a batch of >= 2."""
    return max(batch, 2) if options.exporter == "dynamo" else batch


def denoiser_io_names(keys: list[str]) -> tuple[list[str], list[str]]:
    return [f"z_{k}" for k in keys] + [f"t_{k}" for k in keys], [f"eps_{k}" for k in keys]


def _param_bytes(module: nn.Module, fp16: bool) -> int:
    per = 2 if fp16 else 4
    return sum(p.numel() for p in module.parameters()) * per


def _torchscript_export(graph: nn.Module, args: tuple[Tensor, ...], path: Path,
                        inputs: list[str], outputs: list[str], opset: int) -> None:
    axes = {name: {0: BATCH} for name in inputs + outputs}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*will be removed.*")
        warnings.filterwarnings("ignore", message=".*Constant folding.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(graph, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)


def _dynamo_export(graph: nn.Module, args: tuple[Tensor, ...], path: Path,
                   inputs: list[str], outputs: list[str], opset: int, external: bool) -> None:
    batch = torch.export.Dim(BATCH, min=1, max=4096)
    shapes = tuple({0: batch} for _ in args)
    logging.getLogger("onnx_ir").setLevel(logging.WARNING)  # one INFO line per initializer
    program = torch.onnx.export(graph, args, None, input_names=inputs, output_names=outputs,
                                dynamic_shapes=(shapes,), opset_version=max(opset, 18),
                                dynamo=True, external_data=True, optimize=True,
                                verbose=False)
    if program is None:
        raise RuntimeError("dynamo exporter returned no program")
    program.save(str(path), external_data=external)


def export_module(module: nn.Module, graph_cls: type[nn.Module], args: tuple[Tensor, ...],
                  path: Path, inputs: list[str], outputs: list[str],
                  options: ExportOptions) -> list[Path]:
    """Export ``graph_cls(module)`` to ``path``; returns every file written (graph + data).

    With fp16 the weights are converted on a copy, so the caller's module is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    src = copy.deepcopy(module).half() if options.fp16 else module
    graph = graph_cls(src).eval()
    size = _param_bytes(module, options.fp16)
    external = options.external_data
    if external is None:
        external = size > EXTERNAL_DATA_THRESHOLD
    data_name = path.name + ".data"
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        tmp_path = Path(tmp) / path.name
        with torch.no_grad():
            if options.exporter == "dynamo":
                _dynamo_export(graph, args, tmp_path, inputs, outputs, options.opset, external)
            elif options.exporter == "torchscript":
                _torchscript_export(graph, args, tmp_path, inputs, outputs, options.opset)
            else:
                raise ValueError(f"unknown exporter {options.exporter!r}")
        del graph, src
        written = sorted(Path(tmp).iterdir())
        for old in (path, path.parent / data_name):
            old.unlink(missing_ok=True)
        if written != [tmp_path]:  # the exporter spilled tensors into files (> 2 GB)
            log.info("merging %d external tensor files into %s", len(written) - 1, data_name)
            merge_external_data(tmp_path, path, data_name)
            files = [path, path.parent / data_name]
        elif external:
            model = onnx.load(str(tmp_path))
            onnx.save_model(model, str(path), save_as_external_data=True,
                            all_tensors_to_one_file=True, location=data_name,
                            size_threshold=1024)
            del model
            files = [path, path.parent / data_name]
        else:
            shutil.move(str(tmp_path), path)
            files = [path]
    for f in files:
        f.chmod(0o644)  # onnx writes external data as 0600; packages are shared read-only
    log.info("exported %s (%s, %.1f MB of weights)", path.name, options.precision, size / 1e6)
    return files


def merge_external_data(src: Path, dst: Path, data_name: str, align: int = 4096) -> None:
    """Rewrite per-tensor external files as one ``data_name`` file, streaming tensor by tensor.

    ``onnx.load`` + ``save`` would hold every weight in memory twice more (8.3 GB peak for
    large); this keeps only one tensor at a time.
    """
    model = onnx.load(str(src), load_external_data=False)
    data_path = dst.parent / data_name
    with data_path.open("wb") as out:
        for tensor in model.graph.initializer:
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in tensor.external_data}
            raw_path = src.parent / info["location"]
            offset = int(info.get("offset", 0))
            with raw_path.open("rb") as fh:
                fh.seek(offset)
                raw = fh.read(int(info["length"])) if "length" in info else fh.read()
            pos = out.tell()
            if pos % align:
                out.write(b"\0" * (align - pos % align))
                pos = out.tell()
            out.write(raw)
            del tensor.external_data[:]
            for key, value in (("location", data_name), ("offset", str(pos)),
                               ("length", str(len(raw)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
    onnx.save_model(model, str(dst))


def export_denoiser(model: CopgenUViT, path: Path, options: ExportOptions | None = None,
                    batch: int = 1) -> list[Path]:
    """``denoiser.onnx``: inputs z_<key> (B,C,h,w) then t_<key> (B,), outputs eps_<key>."""
    options = options or ExportOptions()
    batch = _example_batch(options, batch)
    model.eval()
    keys = model.config.keys
    gen = torch.Generator().manual_seed(0)
    latents = [torch.randn(batch, c, h, w, generator=gen) for _, c, h, w, _ in
               model.config.modalities]
    times = [torch.full((batch,), 500.0) for _ in keys]
    inputs, outputs = denoiser_io_names(keys)
    return export_module(model, DenoiserGraph, (*latents, *times), path, inputs, outputs, options)


def export_encoder(vae: AutoencoderKL, path: Path, options: ExportOptions | None = None,
                   batch: int = 1) -> list[Path]:
    """``encoder_<key>.onnx``: image (B,C,H,W) -> moments (B,2z,h,w)."""
    options = options or ExportOptions()
    batch = _example_batch(options, batch)
    vae.eval()
    cfg = vae.config
    x = torch.zeros(batch, cfg.in_channels, cfg.resolution, cfg.resolution)
    return export_module(vae, EncoderGraph, (x,), path, ["image"], ["moments"], options)


def export_decoder(vae: AutoencoderKL, path: Path, options: ExportOptions | None = None,
                   batch: int = 1) -> list[Path]:
    """``decoder_<key>.onnx``: latent (B,z,h,w) in diffusion units -> image (B,C,H,W)."""
    options = options or ExportOptions()
    batch = _example_batch(options, batch)
    vae.eval()
    cfg = vae.config
    lat = cfg.resolution // 2 ** (len(cfg.ch_mult) - 1)
    z = torch.zeros(batch, cfg.z_channels, lat, lat)
    return export_module(vae, DecoderGraph, (z,), path, ["latent"], ["image"], options)


def check_gpu_graph(path: Path) -> dict[str, int]:
    """Raise ``ValueError`` unless ``path`` is a GPU-variant graph: at least one ONNX
    ``Attention`` node, no run-time shape computation (:data:`SHAPE_OPS`), every input and
    output static except the leading batch axis. Returns the op counts (for logs and tests)."""
    model = onnx.load(str(path), load_external_data=False)
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    problems = []
    if not ops.get("Attention"):
        problems.append("no ONNX Attention node (opset >= 23 dynamo export expected)")
    shape_ops = sorted(set(ops) & SHAPE_OPS)
    if shape_ops:
        problems.append(f"run-time shape nodes {shape_ops} (they would sit on the CPU)")
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims[1:]):
            problems.append(f"{value.name} has a dynamic axis besides the batch")
    if problems:
        raise ValueError(f"{Path(path).name} is not a GPU variant graph: " + "; ".join(problems))
    return ops
