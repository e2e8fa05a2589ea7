"""The engine's speed next to the official PyTorch path, on whichever device is present.

One run prints two tables and then, last, one line per batch size that a script can read:

1. ``backends`` (CPU; ``--no-compare`` skips it): one base denoiser forward (= one solver step)
   through every CPU contender at equal inputs, with each one's relative error against torch
   fp32: torch fp32 eager, torch bf16 autocast (what the official code runs on a CPU), ONNX
   Runtime CPU on the TorchScript opset-17 graph that packages ship, ONNX Runtime CPU on a
   dynamo opset-23 graph, the OpenVINO runtime reading the opset-17 graph in bf16, and the
   OpenVINO execution provider for onnxruntime (``onnxruntime-ep-openvino``, when importable;
   ``--ov-ep-path`` puts a ``pip install --target`` folder of it on sys.path).
2. ``engine``: the engine as it runs by default (``OnnxModel`` + ``DenoiserSession`` with
   default ``RuntimeOptions``: OpenVINO bf16 on a CPU where openvino is installed, else ONNX
   Runtime; on CUDA the fp16 dynamo opset-23 graph) against torch (bf16 autocast on a CPU,
   fp16 autocast on CUDA): denoiser step, VAE encode and decode (the S2 L2A 10 m VAE, the
   largest image) and the time per sample-footprint = steps x step / batch + decode / batch
   (the conditions' encode is once per footprint, not per sample, and is listed apart).

The contenders of one table run interleaved (A, B, C, A, B, C, ...) and the best of
``--repeats`` rounds is kept, so load from other processes on a shared machine slows every
contender alike. The last lines are exactly ``ratio <cpu|cuda> batch <B>: <torch step / engine
step>`` (above 1: the engine is faster).

Usage: ``.venv/bin/python benchmarks/bench_engine.py [--size base] [--batches ...]
[--threads 2] [--repeats 2] [--steps 50] [--workdir build/bench] [--no-compare]
[--ov-ep-path DIR]``. Default batches: 1 8 16 64 on CUDA; 1 4 on a CPU (a base fp32 forward
at batch 4 takes about 12 s on 2 quiet cores, so 16 and 64 are out of reach there). The base
exports take about a minute each and are kept in ``--workdir``; the CPU run held 9.5 GB.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine.backends import OpenVinoGraph, import_openvino  # noqa: E402
from copgen_plugin.engine.runtime import DenoiserSession, OnnxModel, RuntimeOptions  # noqa: E402
from models.autoencoder import AutoencoderKL  # noqa: E402
from models.configs import get_size, select_modalities  # noqa: E402
from models.denoiser import CopgenUViT  # noqa: E402
from models.onnx_export import (  # noqa: E402
    ExportOptions,
    export_decoder,
    export_denoiser,
    export_encoder,
)
from models.tiny import init_tame  # noqa: E402

logger = logging.getLogger("bench_engine")
VAE_KEY = "S2L2A_B02_B03_B04_B08"
Fn = Callable[[], Any]


def best_times(fns: dict[str, Fn], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Best wall time of each function over ``repeats`` interleaved rounds, after a warm-up
    round whose outputs are returned (for the accuracy column)."""
    outputs = {name: fn() for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, outputs


def flat(out: Any) -> np.ndarray:
    """Every output of a forward, concatenated as float64 (dicts in key order)."""
    if isinstance(out, dict):
        out = [out[k] for k in sorted(out)]
    if isinstance(out, torch.Tensor | np.ndarray):
        out = [out]
    return np.concatenate([np.asarray(o.float() if isinstance(o, torch.Tensor) else o,
                                      np.float64).ravel() for o in out])


def rel_err(ref: Any, out: Any) -> float:
    a, b = flat(ref), flat(out)
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


# -- the modules and their graphs ------------------------------------------------------------

def build_denoiser(size: str) -> CopgenUViT:
    model = CopgenUViT(get_size(size).backbone(select_modalities(None)))
    init_tame(model, torch.Generator().manual_seed(0))
    return model.eval()


def build_vae(size: str) -> AutoencoderKL:
    (spec,) = select_modalities([VAE_KEY])
    vae = AutoencoderKL(get_size(size).vae(spec), scale_factor=spec.scale_factor or 1.0)
    init_tame(vae, torch.Generator().manual_seed(1), out_gain=0.5)
    return vae.eval()


def exported(path: Path, export: Callable[[Path], object]) -> Path:
    if not path.exists():
        t0 = time.perf_counter()
        export(path)
        logger.info("exported %s in %.0f s", path.name, time.perf_counter() - t0)
    return path


def denoiser_inputs(model: CopgenUViT, batch: int) -> tuple[dict[str, np.ndarray],
                                                           dict[str, np.ndarray]]:
    """Latents N(0, I) and mixed timesteps (half generated at 500, half conditions at 0)."""
    rng = np.random.default_rng(0)
    z, t = {}, {}
    for i, (key, c, h, w, _) in enumerate(model.config.modalities):
        z[key] = rng.standard_normal((batch, c, h, w), dtype=np.float32)
        t[key] = np.full((batch,), 500.0 if i % 2 else 0.0, dtype=np.float32)
    return z, t


def torch_call(module: Callable[..., Any], args: Sequence[Any], *, device: str,
               dtype: torch.dtype | None) -> Fn:
    """A torch forward in inference mode, under autocast when ``dtype`` is given."""
    def run() -> Any:
        cast = nullcontext() if dtype is None else torch.autocast(device, dtype=dtype)
        with torch.inference_mode(), cast:
            out = module(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        return out
    return run


def feeds_of(model: CopgenUViT, z: dict[str, np.ndarray], t: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
    return {**{f"z_{k}": z[k] for k in model.config.keys},
            **{f"t_{k}": t[k] for k in model.config.keys}}


def ort_cpu(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ov_ep_session(path: Path, threads: int, workdir: Path) -> tuple[Any, str]:
    """An onnxruntime session on the OpenVINO EP plugin in bf16, or (None, why not)."""
    try:
        import onnxruntime as ort
        import onnxruntime_ep_openvino as ovep
    except ImportError:
        return None, "onnxruntime-ep-openvino not importable (see --ov-ep-path)"
    try:
        ort.register_execution_provider_library("openvino_ep", ovep.get_library_path())
    except Exception as exc:  # already registered in this process is fine
        if "already" not in str(exc).lower():
            return None, f"cannot register the OpenVINO EP: {exc}"
    devices = [d for d in ort.get_ep_devices() if d.ep_name == ovep.get_ep_name()
               and d.ep_metadata.get("ov_device") == "CPU"]
    if not devices:
        return None, "the OpenVINO EP lists no CPU device"
    cfg = workdir / "ov_ep_bf16.json"
    cfg.write_text(json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16",
                                       "INFERENCE_NUM_THREADS": threads}}))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.add_provider_for_devices(devices[:1], {"load_config": str(cfg)})
    return ort.InferenceSession(str(path), sess_options=so), ""


# -- table 1: every CPU backend on the base denoiser ------------------------------------------

def compare_backends(size: str, batches: Sequence[int], threads: int, repeats: int,
                     workdir: Path) -> list[dict[str, Any]]:
    model = build_denoiser(size)
    ts17 = exported(workdir / f"denoiser_{size}.onnx", lambda p: export_denoiser(model, p))
    dyn23 = exported(workdir / f"denoiser_{size}_op23.onnx", lambda p: export_denoiser(
        model, p, ExportOptions(exporter="dynamo", opset=23)))
    sessions: dict[str, Any] = {"ORT fp32 opset17": ort_cpu(ts17, threads),
                                "ORT fp32 opset23": ort_cpu(dyn23, threads)}
    if import_openvino() is not None:
        sessions["OpenVINO bf16"] = OpenVinoGraph(ts17, "denoiser", threads=threads,
                                                  precision="bf16")
    else:
        logger.info("OpenVINO runtime: skipped (openvino not installed)")
    ep, why = ov_ep_session(ts17, threads, workdir)
    if ep is not None:
        sessions["OV EP bf16"] = ep
    else:
        logger.info("OpenVINO EP: skipped (%s)", why)
    rows = []
    for batch in batches:
        z, t = denoiser_inputs(model, batch)
        args = ([torch.from_numpy(z[k]) for k in model.config.keys],
                [torch.from_numpy(t[k]) for k in model.config.keys])
        feeds = feeds_of(model, z, t)
        fns: dict[str, Fn] = {
            "torch fp32": torch_call(model, args, device="cpu", dtype=None),
            "torch bf16 autocast": torch_call(model, args, device="cpu", dtype=torch.bfloat16),
        }
        for name, sess in sessions.items():
            if isinstance(sess, OpenVinoGraph):
                fns[name] = lambda s=sess, f=feeds: s.run(f)
            else:
                fns[name] = lambda s=sess, f=feeds: s.run(None, f)
        times, outs = best_times(fns, repeats)
        ref = outs["torch fp32"]
        for name in fns:
            rows.append({"batch": batch, "contender": name, "step": times[name],
                         "err": rel_err(ref, outs[name])})
            logger.info("batch %d %-20s %.3f s  rel err %.1e", batch, name, times[name],
                        rows[-1]["err"])
    return rows


def backends_table(rows: list[dict[str, Any]]) -> str:
    bf16 = {r["batch"]: r["step"] for r in rows if r["contender"] == "torch bf16 autocast"}
    lines = [f"{'batch':>5}  {'contender':22}{'s/step':>9}{'bf16/this':>11}{'rel err':>10}"]
    lines += [f"{r['batch']:>5}  {r['contender']:22}{r['step']:>9.3f}"
              f"{bf16[r['batch']] / r['step']:>11.2f}{r['err']:>10.1e}" for r in rows]
    return "\n".join(lines)


# -- table 2: the engine as it runs by default against torch ---------------------------------

def engine_vs_torch(size: str, device: str, batches: Sequence[int], threads: int,
                    repeats: int, steps: int, workdir: Path) -> list[dict[str, Any]]:
    cuda = device == "cuda"
    model = build_denoiser(size)
    vae = build_vae(size)
    options = ExportOptions(fp16=True, exporter="dynamo", opset=23) if cuda else ExportOptions()
    tag = "fp16_op23" if cuda else "fp32"
    den_path = exported(workdir / f"denoiser_{size}_{tag}.onnx" if cuda
                        else workdir / f"denoiser_{size}.onnx",
                        lambda p: export_denoiser(model, p, options))
    enc_path = exported(workdir / f"encoder_{size}_{tag}.onnx",
                        lambda p: export_encoder(vae, p, options))
    dec_path = exported(workdir / f"decoder_{size}_{tag}.onnx",
                        lambda p: export_decoder(vae, p, options))
    ropts = RuntimeOptions(device, intra_op_threads=None if cuda else threads,
                           inter_op_threads=None if cuda else 1)
    den_model = OnnxModel(den_path, ropts, name="denoiser", openvino=True)
    denoiser = DenoiserSession(den_model, model.config.keys)
    encoder = OnnxModel(enc_path, ropts, name="encoder")
    decoder = OnnxModel(dec_path, ropts, name="decoder")
    logger.info("engine: denoiser %s, encoder %s, decoder %s", den_model.label, encoder.label,
                decoder.label)
    tdev, tdtype = ("cuda", torch.float16) if cuda else ("cpu", torch.bfloat16)
    model.to(tdev)
    vae.to(tdev)
    cfg = vae.config
    lat = cfg.resolution // 2 ** (len(cfg.ch_mult) - 1)
    rows = []
    for batch in batches:
        z, t = denoiser_inputs(model, batch)
        args = ([torch.from_numpy(z[k]).to(tdev) for k in model.config.keys],
                [torch.from_numpy(t[k]).to(tdev) for k in model.config.keys])
        rng = np.random.default_rng(1)
        image = rng.uniform(-1, 1, (batch, cfg.in_channels, cfg.resolution, cfg.resolution)
                            ).astype(np.float32)
        latent = rng.standard_normal((batch, cfg.z_channels, lat, lat), dtype=np.float32)
        timg, tlat = torch.from_numpy(image).to(tdev), torch.from_numpy(latent).to(tdev)
        fns: dict[str, Fn] = {
            "engine step": lambda z=z, t=t: denoiser(z, t),
            "torch step": torch_call(model, args, device=tdev, dtype=tdtype),
            "engine encode": lambda x=image: encoder.run({"image": x}),
            "torch encode": torch_call(vae.encode_moments, [timg], device=tdev,
                                       dtype=tdtype),
            "engine decode": lambda x=latent: decoder.run({"latent": x}),
            "torch decode": torch_call(vae.decode, [tlat],
                                       device=tdev, dtype=tdtype),
        }
        times, _ = best_times(fns, repeats)
        row: dict[str, Any] = {"batch": batch, **times}
        for who in ("engine", "torch"):
            row[f"{who} sample"] = (steps * times[f"{who} step"] + times[f"{who} decode"]) / batch
        logger.info("batch %d: %s", batch, ", ".join(f"{k} {v:.4f} s" for k, v in row.items()
                                                       if k != "batch"))
        rows.append(row)
    return rows


def engine_table(rows: list[dict[str, Any]], device: str, steps: int) -> str:
    ref = "torch fp16 autocast" if device == "cuda" else "torch bf16 autocast"
    lines = [f"engine (default options) vs {ref}; seconds; sample = {steps} steps x step / "
             "batch + decode / batch",
             f"{'batch':>5}{'eng step':>10}{'torch step':>11}{'eng enc':>9}{'torch enc':>10}"
             f"{'eng dec':>9}{'torch dec':>10}{'eng/sample':>11}{'torch/sample':>13}"]
    for r in rows:
        lines.append(
            f"{r['batch']:>5}{r['engine step']:>10.4f}{r['torch step']:>11.4f}"
            f"{r['engine encode']:>9.4f}{r['torch encode']:>10.4f}{r['engine decode']:>9.4f}"
            f"{r['torch decode']:>10.4f}{r['engine sample']:>11.3f}{r['torch sample']:>13.3f}")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    units = [f for f in ("amx_bf16", "avx512_bf16") if f in flags]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{cpu} ({os.cpu_count()} cores; {', '.join(units) or 'no bf16 units'}); {gpu}; "
            f"load average {load}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="base")
    parser.add_argument("--batches", nargs="+", type=int, default=None)
    parser.add_argument("--compare-batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip table 1 (every CPU backend)")
    parser.add_argument("--ov-ep-path", type=Path, default=None,
                        help="a folder holding onnxruntime_ep_openvino (pip install --target)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    if args.ov_ep_path is not None:
        sys.path.insert(0, str(args.ov_ep_path))
    args.workdir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batches = args.batches or ([1, 8, 16, 64] if device == "cuda" else [1, 4])
    head = f"{args.size} layout, random weights, all 12 modalities; {machine()}"
    compare: list[dict[str, Any]] = []
    if not args.no_compare:
        compare = compare_backends(args.size, args.compare_batches, args.threads,
                                   args.repeats, args.workdir)
    rows = engine_vs_torch(args.size, device, batches, args.threads, args.repeats, args.steps,
                           args.workdir)
    print(head)
    if compare:
        print(f"\n1. CPU backends, one denoiser step ({args.threads} threads, interleaved)\n"
              + backends_table(compare))
    print("\n2. " + engine_table(rows, device, args.steps) + "\n")
    for r in rows:
        print(f"ratio {device} batch {r['batch']}: {r['torch step'] / r['engine step']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
