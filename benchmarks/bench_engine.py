"""Denoiser speed on this CPU: the engine's ONNX Runtime path next to PyTorch eager.

For the tiny and the base layout (random weights, all 12 modalities, 834 tokens) at batch 1 and
4 it measures one denoiser forward (= one solver step) through the engine's own session code,
and the same forward of the ``models/`` module in PyTorch eager fp32 and under bf16 autocast
(what the official code runs on a CPU). Per sample = steps x step time / batch (denoiser only:
the VAE encode/decode of each footprint comes on top). Ratios are ORT time / torch time.

Usage: ``.venv/bin/python benchmarks/bench_engine.py [--sizes tiny base] [--batches 1 4]
[--threads 2] [--repeats 3] [--steps 50] [--workdir DIR]``. The base export takes a minute or
two and about 5 GB of RAM; it is kept in ``--workdir`` and reused.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine.runtime import DenoiserSession, OnnxModel, RuntimeOptions  # noqa: E402
from models.configs import get_size, select_modalities  # noqa: E402
from models.denoiser import CopgenUViT  # noqa: E402
from models.onnx_export import export_denoiser  # noqa: E402
from models.tiny import init_tame  # noqa: E402

logger = logging.getLogger("bench_engine")


def best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function over ``repeats`` interleaved rounds, after a warm-up.

    Interleaving (ORT, fp32, bf16, ORT, ...) makes the ratios robust to load from other
    processes on a shared machine: a busy spell slows every contender, not just one.
    """
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def build(size: str) -> CopgenUViT:
    model = CopgenUViT(get_size(size).backbone(select_modalities(None)))
    init_tame(model, torch.Generator().manual_seed(0))
    return model.eval()


def inputs(model: CopgenUViT, batch: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Latents N(0, I) and mixed timesteps (half generated at 500, half conditions at 0)."""
    rng = np.random.default_rng(0)
    z, t = {}, {}
    for i, (key, c, h, w, _) in enumerate(model.config.modalities):
        z[key] = rng.standard_normal((batch, c, h, w), dtype=np.float32)
        t[key] = np.full((batch,), 500.0 if i % 2 else 0.0, dtype=np.float32)
    return z, t


def bench_size(size: str, batches: Sequence[int], threads: int, repeats: int, steps: int,
               workdir: Path) -> list[dict[str, float]]:
    torch.set_num_threads(threads)
    model = build(size)
    onnx_path = workdir / f"denoiser_{size}.onnx"
    if not onnx_path.exists():
        t0 = time.perf_counter()
        export_denoiser(model, onnx_path)
        logger.info("%s: exported %s in %.0f s", size, onnx_path, time.perf_counter() - t0)
    session = OnnxModel(onnx_path, RuntimeOptions("cpu", intra_op_threads=threads,
                                                  inter_op_threads=1), name=f"denoiser {size}")
    denoiser = DenoiserSession(session, model.config.keys)
    rows = []
    for batch in batches:
        z, t = inputs(model, batch)
        zt = [torch.from_numpy(z[k]) for k in model.config.keys]
        tt = [torch.from_numpy(t[k]) for k in model.config.keys]

        def torch_fp32(zt: list[torch.Tensor] = zt, tt: list[torch.Tensor] = tt) -> object:
            with torch.inference_mode():
                return model(zt, tt)

        def torch_bf16(zt: list[torch.Tensor] = zt, tt: list[torch.Tensor] = tt) -> object:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                return model(zt, tt)

        def ort_run(z: dict[str, np.ndarray] = z, t: dict[str, np.ndarray] = t) -> object:
            return denoiser(z, t)

        row = {"batch": batch,
               **best_times({"ort": ort_run, "fp32": torch_fp32, "bf16": torch_bf16}, repeats)}
        logger.info("%s batch %d: %s", size, batch,
                    ", ".join(f"{k} {v:.4f} s" for k, v in row.items() if k != "batch"))
        rows.append(row)
    return [{**r, "size": size, "steps": steps} for r in rows]  # type: ignore[dict-item]


def report(rows: list[dict[str, float]], threads: int) -> str:
    head = (f"denoiser step and per-sample time ({threads} threads; per sample = steps x step / "
            "batch, denoiser only)\n"
            f"{'layout':7}{'batch':>6}{'ORT step':>11}{'fp32 step':>11}{'bf16 step':>11}"
            f"{'ORT/sample':>12}{'fp32/sample':>13}{'bf16/sample':>13}"
            f"{'ORT/fp32':>10}{'ORT/bf16':>10}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [head.replace(" threads;", f" threads, load average {load};")]
    for r in rows:
        per = {k: r[k] * r["steps"] / r["batch"] for k in ("ort", "fp32", "bf16")}
        lines.append(
            f"{r['size']:7}{int(r['batch']):>6}{r['ort']:>10.4f}s{r['fp32']:>10.4f}s"
            f"{r['bf16']:>10.4f}s{per['ort']:>11.2f}s{per['fp32']:>12.2f}s{per['bf16']:>12.2f}s"
            f"{r['ort'] / r['fp32']:>10.2f}{r['ort'] / r['bf16']:>10.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, float]] = []
    for size in args.sizes:
        rows += bench_size(size, args.batches, args.threads, args.repeats, args.steps,
                           args.workdir)
    logger.info("%s", report(rows, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
