"""The denoiser's CUDA path, taken apart: plain run, fixed bound buffers, CUDA graphs, and the
host round trip of the solver state as a share of a step (issue 15 part 2; docs/GPU.md).

For a package's denoiser variant (``--precision fp16`` by default: the CUDA variant) at each
batch size it times, best of ``--repeats`` after a warm-up:

* ``plain``: ``session.run`` on host arrays (ONNX Runtime copies in and out itself);
* ``bound``: :class:`copgen_plugin.engine.cuda_path.BoundRunner`, buffers bound once, no graphs;
* ``graphs``: the same with ``enable_cuda_graph`` (one captured graph per batch shape);
* ``roundtrip``: only the copies the solver state makes per step (every ``z``/``t`` into the
  bound buffers, every ``eps`` back), no forward.

The last lines read ``roundtrip <device> batch <B>: <roundtrip / graphs step> %``: the figure
that decides whether keeping the solver state on the device is worth its complexity (under 5 %:
no). On a machine without CUDA the same runs on the CPU (no graphs), as a smoke test only.

Usage: ``python benchmarks/bench_cuda_path.py [--package DIR] [--precision fp16]
[--batches 1 8 16 64] [--repeats 20]``. The package may be the demo, the tiny one, or base
exported with ``python -m models.export ... --gpu-variant``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine.cuda_path import BoundRunner  # noqa: E402
from copgen_plugin.engine.package import load_package  # noqa: E402
from copgen_plugin.engine.runtime import OnnxModel, RuntimeOptions  # noqa: E402
from copgen_plugin.engine.variants import choose_variant, expected_device  # noqa: E402


def best(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def roundtrip(bound: BoundRunner, feeds: dict[str, np.ndarray]) -> None:
    """Only the copies of one step: inputs into the bound buffers, outputs back."""
    slot = bound._slot(int(next(iter(feeds.values())).shape[0]), feeds)
    for name, arr in feeds.items():
        slot.inputs[name].update_inplace(arr)
    for value in slot.outputs:
        value.numpy()


def feeds_for(model: OnnxModel, batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    feeds = {}
    for inp in model.session.get_inputs():
        shape = [batch, *inp.shape[1:]]
        feeds[inp.name] = (rng.standard_normal(shape, dtype=np.float32)
                           if inp.name.startswith("z_") else np.full(shape, 500.0, np.float32))
    return feeds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", type=Path,
                        default=REPO / "resources" / "models" / "copgen-demo")
    parser.add_argument("--precision", default="fp16", choices=["fp16", "fp32"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 16, 64])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    pkg = load_package(args.package)
    options = RuntimeOptions("auto", precision=args.precision)
    device = expected_device(options)
    variant = choose_variant(pkg, args.precision, device).variant
    path = pkg.path(pkg.variant_file(variant.name, "denoiser"))
    plain_model = OnnxModel(path, RuntimeOptions("auto", cuda_graphs=False))
    graphs_model = OnnxModel(path, options, cuda_options={"enable_cuda_graph": "1"}) \
        if plain_model.on_cuda else None
    print(f"package {pkg.model_id}, variant {variant.describe()}, device {plain_model.device}")
    print(f"{'batch':>5} {'plain ms':>9} {'bound ms':>9} {'graphs ms':>10} {'roundtrip ms':>13}")
    shares = []
    for batch in args.batches:
        feeds = feeds_for(plain_model, batch)
        bound = BoundRunner(plain_model)
        t_plain = best(partial(plain_model.run, feeds), args.repeats)
        t_bound = best(partial(bound.run, feeds), args.repeats)
        t_graphs = float("nan")
        if graphs_model is not None:
            t_graphs = best(partial(BoundRunner(graphs_model).run, feeds), args.repeats)
        t_rt = best(partial(roundtrip, bound, feeds), args.repeats)
        step = t_graphs if np.isfinite(t_graphs) else t_bound
        shares.append((batch, 100 * t_rt / step))
        print(f"{batch:>5} {1e3 * t_plain:>9.2f} {1e3 * t_bound:>9.2f} {1e3 * t_graphs:>10.2f} "
              f"{1e3 * t_rt:>13.3f}")
    for batch, share in shares:
        print(f"roundtrip {plain_model.device} batch {batch}: {share:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
