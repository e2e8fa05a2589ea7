"""The demo scene's gap fill: the sequential footprint scan against wavefront batches.

Runs ``run_fill`` on ``resources/demo`` with the demo model as ``make demo`` does (S2 L2A target,
DEM, S1 and land cover conditions, overlap 160 m, 8 samples, 50 steps, batch size 4), once as
the sequential scan (footprint by footprint, ``run``) and once per ``--rows`` value with the
footprints of each wavefront sharing denoiser calls (``run_batch``; 0 = the automatic budget).
All runs share one engine (warm sessions) and alternate ``--repeat`` times; the best time of
each is printed side by side with the denoiser calls made, and whether every output file equals
the scan's pixel for pixel.

Usage: ``.venv/bin/python benchmarks/bench_wavefront.py [--samples 8] [--steps 50]
[--rows 0 16] [--repeat 2] [--threads 2] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine.batches import default_rows  # noqa: E402
from copgen_plugin.engine.generate import CopgenEngine  # noqa: E402
from copgen_plugin.engine.runtime import RuntimeOptions  # noqa: E402
from copgen_plugin.fill import (  # noqa: E402
    FillOutputs,
    FillReport,
    FillRequest,
    LayerInput,
    run_fill,
)
from copgen_plugin.fill.footprint import FootprintRunner  # noqa: E402

PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SCENE = REPO / "resources" / "demo"


class ScanRunner(FootprintRunner):
    """The runner without batches: footprint by footprint in scan order."""

    run_batch = None  # type: ignore[assignment]


class CallCounter:
    """The engine's denoiser session with its calls and rows counted."""

    def __init__(self, session: Any) -> None:
        self.session, self.calls, self.rows = session, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def __call__(self, z: Any, t: Any) -> Any:
        self.calls += 1
        self.rows += len(next(iter(z.values())))
        return self.session(z, t)


def fill(engine: CopgenEngine, out: Path, args: argparse.Namespace, *, rows: int | None
         ) -> tuple[FillReport, float, float, int]:
    """One fill: report, wall seconds, CPU seconds of this process (all threads), denoiser
    calls (rows None: the sequential scan)."""
    req = FillRequest(
        mode="gapfill", target=LayerInput(SCENE / "s2l2a.tif", "S2L2A"),
        outputs=FillOutputs(out / "filled.tif", out / "spread.tif", out / "samples"),
        model=str(PACKAGE),
        conditions=(LayerInput(SCENE / "dem.tif", "DEM"),
                    LayerInput(SCENE / "s1rtc.tif", "S1RTC", s1_scale="linear"),
                    LayerInput(SCENE / "lulc.tif", "LULC")),
        date=dt.date(2021, 7, 15), n_samples=args.samples, steps=args.steps, seed=1234,
        overlap_m=160.0, device="cpu", batch_size=4, batch_rows=rows or 0, threads=args.threads)
    counter = engine._denoiser
    assert isinstance(counter, CallCounter)
    calls = counter.calls
    t0, c0 = time.perf_counter(), time.process_time()
    report = run_fill(req, engine=engine, runner_factory=ScanRunner if rows is None else None)
    return (report, time.perf_counter() - t0, time.process_time() - c0,
            counter.calls - calls)


def same_files(a: FillReport, b: FillReport) -> bool:
    import rasterio

    paths = [(a.outputs[k], b.outputs[k]) for k in ("filled", "spread")]
    paths += list(zip(a.sample_paths, b.sample_paths, strict=True))
    for pa, pb in paths:
        with rasterio.open(pa) as x, rasterio.open(pb) as y:
            if not np.array_equal(x.read(), y.read()):
                return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--rows", type=int, nargs="+", default=[0, 16])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="copgen_bench_wavefront_"))
    engine = CopgenEngine.open(PACKAGE, RuntimeOptions(device="cpu",
                                                       intra_op_threads=args.threads))
    engine._denoiser = CallCounter(engine.denoiser())  # type: ignore[assignment]
    auto = default_rows(engine.package, "cpu")
    modes: list[int | None] = [None, *args.rows]
    best: dict[int | None, float] = {}
    cpu: dict[int | None, float] = {}
    calls: dict[int | None, int] = {}
    reports: dict[int | None, FillReport] = {}
    for rep in range(args.repeat):
        for mode in modes:
            name = "scan" if mode is None else f"rows{mode}"
            report, seconds, cpu_s, n_calls = fill(engine, work / f"{name}_{rep}", args,
                                                   rows=mode)
            best[mode] = min(best.get(mode, seconds), seconds)
            cpu[mode] = min(cpu.get(mode, cpu_s), cpu_s)
            calls[mode], reports[mode] = n_calls, report
            print(f"  run {rep + 1}: {name}: {seconds:.1f} s, CPU {cpu_s:.1f} s, {n_calls} "
                  "denoiser calls", file=sys.stderr)
    scan = reports[None]
    print(f"demo scene gap fill ({scan.grid}), demo model, N={args.samples}, "
          f"steps={args.steps}, overlap 160 m, batch size 4, {args.threads} CPU threads, "
          f"{scan.footprints_run} footprints; best of {args.repeat}")
    head = ("mode", "samples per denoiser call", "denoiser calls", "fill s", "speed-up",
            "CPU s", "CPU ratio", "files equal to the scan")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for mode in modes:
        label = "sequential scan" if mode is None else "wavefront batches"
        rows = "4 (batch size)" if mode is None else (f"{auto} (automatic)" if mode == 0
                                                       else str(mode))
        equal = "-" if mode is None else ("yes" if same_files(scan, reports[mode]) else "NO")
        print(" | ".join([label, rows, str(calls[mode]), f"{best[mode]:.1f}",
                          f"{best[None] / best[mode]:.2f}x", f"{cpu[mode]:.1f}",
                          f"{cpu[None] / cpu[mode]:.2f}x", equal]))


if __name__ == "__main__":
    main()
