"""Is the demo model's spread calibrated? Gap fills on held-back synthetic scenes (issue #7.4).

The synthetic world knows what it drew, so for each held-back footprint (seeds never used in
training) this fills a cloud-shaped S2 gap with N samples under three sets of conditions and
prints, over the true gap pixels (all four bands, DN):

* (a) coverage: share of true values inside the per-pixel 5-95 % interval of the N samples
  (ideal 90 % for a calibrated model with many samples; with N = 8 the interpolated quantiles
  make it lower even for perfect samples, so the "oracle" rows give the attainable figure);
* (b) spread: mean per-pixel standard deviation of the samples, for DEM only, DEM + S1 and
  DEM + S1 + LULC (it should shrink as the conditioning grows, as in the COP-GEN paper);
* (c) RMSE of the ensemble mean (and of single samples) against GDAL FillNodata on the gaps;
* the spread near the observed pixels (gap pixels within 20 m of one) and far from them
  (over 50 m), with the engine's boundary harmonisation and, for all conditions, without;
* the self-check's statistics (issue 18, ``fill/scores.py``) computed both ways, all
  conditions: against the true hidden gap, and by the self-check (observed pixels hidden in
  gap-shaped blobs, ``fill/selfcheck.hide_blobs``, generated in a separate run), so the
  self-check's own error is known.

Oracle rows, one per setting: the generator's own N redraws of what the conditions leave open,
so each model figure has its ceiling beside it: ``cover``+``optical``+``radar`` (``dem``: same
relief, season and sun), ``optical``+``radar`` (``dem+s1``: S1 sees the cover through its
backscatter and the generator cannot redraw "the cover given S1", so this redraw holds the
cover) and ``optical`` (``dem+s1+lulc``). The truth is exchangeable with such redraws, so their
coverage is what a calibrated sampler attains with N samples (well under 90 % at N = 8,
whatever the conditions). Their spread ignores the observed pixels around the gap, which tell
the model more (an upper bound), except for ``dem+s1``, whose held cover tells it less.

The S2 tokenizer's round trip (issue 19): encode and decode (posterior mean, the package's own
ONNX graphs) of ``--tokenizer-scenes`` held-back footprints, RMSE in DN and the ratio of mean
pixel-gradient magnitudes (``models/demo/fidelity.py``): what no sampler can give back.

The last lines are for scripts, exactly (one ``coverage`` line per setting, all conditions for
the ensemble RMSE, harmonised)::

    tokenizer: rmse <DN> gradient <ratio>
    coverage dem: model <percent> oracle <percent>
    coverage dem+s1: model <percent> oracle <percent>
    coverage dem+s1+lulc: model <percent> oracle <percent>
    ensemble rmse: model <DN> gdal <DN>

Run: ``.venv/bin/python benchmarks/bench_spread.py [--package P ...] [--scenes 6 --samples 8
--steps 20 --tokenizer-scenes 32]``
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine import CopgenEngine, GenerationRequest, PartialObservation  # noqa: E402
from copgen_plugin.engine.modalities import denormalise, normalise_image  # noqa: E402
from copgen_plugin.fill.scores import Scores  # noqa: E402
from copgen_plugin.fill.selfcheck import check_seed, hide_blobs  # noqa: E402
from copgen_plugin.geo.baseline import distance_to_observed, fill_nodata  # noqa: E402
from models.demo.data import (  # noqa: E402
    DEM_KEY,
    LULC_KEY,
    S1_KEY,
    S2_KEY,
    scene_rasters,
)
from models.demo.fidelity import (  # noqa: E402
    TOKENIZER_SCENES,
    TOKENIZER_SEED,
    held_back_s2,
    roundtrip_figures,
)
from models.demo.make_scene import cloud_gap  # noqa: E402
from models.demo.world import FOOTPRINT_PX, generate_scene  # noqa: E402

PACKAGE = REPO / "resources" / "models" / "copgen-demo"
SETTINGS: dict[str, tuple[str, ...]] = {
    "dem": (DEM_KEY,),
    "dem+s1": (DEM_KEY, S1_KEY),
    "dem+s1+lulc": (DEM_KEY, S1_KEY, LULC_KEY),
}
ALL = "dem+s1+lulc"
# the world's streams (models/demo/world.py) each setting leaves open, redrawn by its oracle
ORACLES: dict[str, tuple[str, ...]] = {
    "dem": ("cover", "optical", "radar"),
    "dem+s1": ("optical", "radar"),
    "dem+s1+lulc": ("optical",),
}
GDAL = "GDAL FillNodata"
BENCH_SEED = TOKENIZER_SEED  # the first held-back footprints (seeds >= HELD_OUT_SEED)
NEAR_M, FAR_M = 20.0, 50.0


def metrics(samples: np.ndarray, truth: np.ndarray, dist: np.ndarray | None = None
            ) -> dict[str, float]:
    """samples (N, C, P), truth (C, P) over gap pixels (``dist`` (P,) metres from the observed
    ones) -> coverage, spread (overall, near, far), errors (DN)."""
    q05, q95 = np.quantile(samples, [0.05, 0.95], axis=0)
    std = np.std(samples, axis=0, ddof=1)
    out = {} if dist is None else {"spread_near": float(np.mean(std[:, dist <= NEAR_M])),
                                   "spread_far": float(np.mean(std[:, dist > FAR_M]))}
    return {
        **out,
        "coverage": float(np.mean((truth >= q05) & (truth <= q95))),
        "spread": float(np.mean(std)),
        "mean_rmse": float(np.sqrt(np.mean((samples.mean(axis=0) - truth) ** 2))),
        "sample_rmse": float(np.sqrt(np.mean((samples - truth[None]) ** 2))),
    }


def run_scene(engine: CopgenEngine, seed: int, n: int, steps: int,
              both_ways: dict[str, Scores] | None = None) -> dict[str, dict[str, float]]:
    scene = generate_scene(seed)
    raw = scene_rasters(scene)
    gap = cloud_gap(seed, FOOTPRINT_PX, FOOTPRINT_PX, cover=0.2)
    truth = scene.s2[:, gap].astype(np.float32)
    dist = distance_to_observed(gap, 10.0)[gap]
    partial = {S2_KEY: PartialObservation(values=raw[S2_KEY], observed=~gap)}
    rows: dict[str, dict[str, float]] = {}
    runs = [(name, keys, True) for name, keys in SETTINGS.items()]
    runs.append(("all, not harmonised", SETTINGS[ALL], False))
    for name, keys, harmonise in runs:
        req = GenerationRequest(targets=(S2_KEY,), conditions={k: raw[k] for k in keys},
                                partial=partial, n_samples=n, steps=steps, seed=seed,
                                batch_size=n, harmonise=harmonise)
        res = engine.generate(req)
        rows[name] = metrics(res.samples[S2_KEY][:, :, gap], truth, dist)
        if both_ways is not None and name == ALL:
            fill = fill_nodata(scene.s2.astype(np.float32), ~gap, max_search_px=200)
            both_ways["true gap"].add(res.samples[S2_KEY][:, :, gap], truth, dist,
                                      fill[:, gap])
            _self_check(engine, req, scene.s2, raw[S2_KEY], gap, seed, both_ways["self-check"])
    for name, streams in ORACLES.items():
        draws = np.stack([
            generate_scene(seed, overrides={s: seed * 1000 + k for s in streams}).s2[:, gap]
            for k in range(n)]).astype(np.float32)
        rows[oracle_row(name)] = metrics(draws, truth)
    fill = fill_nodata(scene.s2.astype(np.float32), ~gap, max_search_px=200)[:, gap]
    rmse = float(np.sqrt(np.mean((fill - truth) ** 2)))
    rows[GDAL] = {"mean_rmse": rmse, "sample_rmse": rmse}
    return rows


def oracle_row(setting: str) -> str:
    return f"oracle, {setting}"


def tokenizer_figures(engine: CopgenEngine, scenes: int) -> tuple[float, float]:
    """(RMSE DN, gradient ratio) of the package's S2 tokenizer round trip (posterior mean)."""
    tok = engine.tokenizer(S2_KEY)
    spec = engine.package.spec(S2_KEY)
    truth = held_back_s2(scenes)
    decoded = np.concatenate([denormalise(spec, tok.decode(tok.encode(
        normalise_image(spec, truth[i:i + 16])))) for i in range(0, scenes, 16)])
    return roundtrip_figures(truth, decoded)


def script_lines(rows: Mapping[str, Mapping[str, float]], tokenizer: tuple[float, float]
                 ) -> str:
    """The benchmark's last lines, in the exact form issue 19 fixes for scripts."""
    lines = [f"tokenizer: rmse {tokenizer[0]:.1f} gradient {tokenizer[1]:.3f}"]
    for name in SETTINGS:
        lines.append(f"coverage {name}: model {100 * rows[name]['coverage']:.1f} oracle "
                     f"{100 * rows[oracle_row(name)]['coverage']:.1f}")
    lines.append(f"ensemble rmse: model {rows[ALL]['mean_rmse']:.1f} gdal "
                 f"{rows[GDAL]['mean_rmse']:.1f}")
    return "\n".join(lines)


def _self_check(engine: CopgenEngine, req: GenerationRequest, s2: np.ndarray,
                values: np.ndarray, gap: np.ndarray, seed: int, scores: Scores) -> None:
    """What the run's self-check does on one footprint: hide observed pixels in gap-shaped
    blobs, generate them in a separate run, score against the hidden values."""
    hidden = hide_blobs(gap, ~gap, np.random.default_rng(seed))
    kept = ~gap & ~hidden
    check = dataclasses.replace(
        req, partial={S2_KEY: PartialObservation(values=values, observed=kept)},
        seed=check_seed(seed, 0))
    samples = engine.generate(check).samples[S2_KEY]
    fill = fill_nodata(s2.astype(np.float32), kept, max_search_px=200)
    scores.add(samples[:, :, hidden], s2[:, hidden].astype(np.float32),
               distance_to_observed(~kept, 10.0)[hidden], fill[:, hidden])


def both_ways_table(both: Mapping[str, Scores]) -> str:
    """The self-check's statistics against the true gaps and by the self-check."""
    keys = ("coverage_5_95", "coverage_25_75", "mae", "rmse", "gdal_mae", "spread_skill",
            "crps")
    head = f"{'all conditions, S2 (DN)':<24} {'pixels':>8} " + " ".join(f"{k:>14}" for k in keys)
    lines = [head, "-" * len(head)]
    mix = [float(w) for w in both["true gap"].sums["n"][0]]  # the true gaps' distances
    rows = [(name, scores.figures()) for name, scores in both.items()]
    rows.append(("self-check, gaps' mix", both["self-check"].figures(weights=mix)))
    for name, f in rows:
        lines.append(f"{name:<24} {f['pixels']:>8.0f} " + " ".join(
            f"{100 * f[k]:>12.1f} %" if k.startswith("coverage") else f"{f[k]:>14.3f}"
            for k in keys))
    first = next(iter(both.values()))
    exp = first.expected()
    lines.append(f"(expected coverage for {first.n_samples} samples: 5-95 % "
                 f"{100 * exp['coverage_5_95']:.1f} %, 25-75 % {100 * exp['coverage_25_75']:.1f}"
                 " %; spread-skill 1 = calibrated)")
    return "\n".join(lines)


def average(per_scene: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for rows in per_scene:
        for name, vals in rows.items():
            for k, v in vals.items():
                acc[name][k].append(v)
    return {name: {k: float(np.mean(v)) for k, v in vals.items()} for name, vals in acc.items()}


def table(rows: Mapping[str, Mapping[str, float]]) -> str:
    head = f"{'setting':<24} {'coverage 5-95%':>14} {'spread (DN)':>12} " \
           f"{'near/far':>10} {'mean RMSE':>10} {'sample RMSE':>12}"
    lines = [head, "-" * len(head)]
    for name, v in rows.items():
        cov = f"{100 * v['coverage']:.1f} %" if "coverage" in v else "-"
        spread = f"{v['spread']:.0f}" if "spread" in v else "-"
        where = f"{v['spread_near']:.0f}/{v['spread_far']:.0f}" if "spread_near" in v else "-"
        lines.append(f"{name:<24} {cov:>14} {spread:>12} {where:>10} {v['mean_rmse']:>10.0f} "
                     f"{v['sample_rmse']:>12.0f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, action="append",
                        help="package to measure (repeat to compare several on the same scenes)")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tokenizer-scenes", type=int, default=TOKENIZER_SCENES,
                        help="held-back footprints of the S2 tokenizer's round trip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    last: list[str] = []
    for path in args.package or [PACKAGE]:
        engine = CopgenEngine.open(path)
        t0 = time.perf_counter()
        both = {name: Scores(["B02", "B03", "B04", "B08"], args.samples)
                for name in ("true gap", "self-check")}
        per_scene = [run_scene(engine, BENCH_SEED + i, args.samples, args.steps, both)
                     for i in range(args.scenes)]
        print(f"{path}: demo model {engine.package.model_id} {engine.package.model_version}: "
              f"{args.scenes} held-back scenes (seeds {BENCH_SEED}..{BENCH_SEED + args.scenes - 1}"
              f"), {args.samples} samples, {args.steps} steps, S2 gap pixels, "
              f"DN = reflectance x 10000")
        rows = average(per_scene)
        print(table(rows))
        print(both_ways_table(both))
        tokenizer = tokenizer_figures(engine, args.tokenizer_scenes)
        print(f"(S2 tokenizer round trip: {args.tokenizer_scenes} held-back footprints; "
              f"{time.perf_counter() - t0:.0f} s)\n")
        engine.close()
        last.append(script_lines(rows, tokenizer))
    print("\n\n".join(last))  # the last lines: one block per package, the last package last
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
