"""What boundary harmonisation costs per footprint: ``engine.harmonise.harmonic_offset`` on
cloud-shaped gaps at the demo's and COP-GEN's footprint sizes, for N samples x 4 bands at once.

Figures to set beside a footprint's generation time (bench_engine: the denoiser alone takes
N x steps forwards). Usage: ``.venv/bin/python benchmarks/bench_harmonise.py [--samples 4]
[--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine.harmonise import harmonic_offset  # noqa: E402
from models.demo.make_scene import cloud_gap  # noqa: E402

#: footprint edge in pixels: the demo's S2 (480 m), COP-GEN's 20 m and 10 m S2 groups (1920 m)
SIZES = (48, 96, 192)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'footprint':>10} {'gap':>6} {'arrays':>14} {'best of ' + str(args.repeats):>10}")
    for size in SIZES:
        for cover in (0.2, 0.6):
            gap = cloud_gap(7, size, size, cover=cover)
            shape = (args.samples, 4, size, size)
            sample = rng.normal(size=shape).astype(np.float32)
            target = (sample + rng.normal(0.0, 0.2, shape)).astype(np.float32)
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                harmonic_offset(sample, target, ~gap)
                times.append(time.perf_counter() - t0)
            print(f"{size:>8}px {100 * gap.mean():>5.0f}% {shape!s:>14} "
                  f"{1000 * min(times):>8.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
