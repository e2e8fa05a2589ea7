"""Does a demo package use its conditions, and how much does its tokenizer lose? (issue #7)

For held-back synthetic footprints, per package and per target modality, this prints the
denoiser's error in predicting the clean latent x0 from a noisy one (noise level n of 1000),
once with every other modality given clean at t = 0 (as conditions at inference) and once with
them pure noise at t = 1000 (nothing given). x0 MSE is in units of the latent variance (1 after
the scale factor), so 1.0 is what predicting the mean achieves. A network that uses its
conditions has a much lower "given" than "none" at high n; equal columns mean it ignores them.
It also prints each tokenizer's reconstruction error (S2 in DN, others in network units).

Run: ``.venv/bin/python benchmarks/bench_conditioning.py --package A [--package B ...]``
(several packages are measured side by side on the same scenes and noise).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from copgen_plugin.engine import CopgenEngine  # noqa: E402
from copgen_plugin.engine.modalities import normalise_image  # noqa: E402
from models.demo.data import HELD_OUT_SEED, S2_KEY, scene_rasters  # noqa: E402
from models.demo.world import generate_scene  # noqa: E402

PACKAGE = REPO / "resources" / "models" / "copgen-demo"
LEVELS = (500, 800, 1000)
BENCH_SEED = HELD_OUT_SEED + 700


def clean_latents(engine: CopgenEngine, scenes: int) -> tuple[dict[str, np.ndarray], float]:
    """Posterior-mean latents x scale factor of held-back footprints, and the S2 tokenizer's
    reconstruction RMSE in DN."""
    raws = [scene_rasters(generate_scene(BENCH_SEED + i)) for i in range(scenes)]
    latents, s2_rmse = {}, float("nan")
    for key in engine.package.network_order:
        tok = engine.tokenizer(key)
        images = np.stack([normalise_image(tok.spec, r[key]) for r in raws])
        latents[key] = tok.encode(images)
        if key == S2_KEY:
            rec = tok.decode(latents[key])
            s2_rmse = float(np.sqrt(np.mean((rec - images) ** 2)) * 5000.0)
    return latents, s2_rmse


def x0_errors(engine: CopgenEngine, z0: Mapping[str, np.ndarray], target: str,
              seed: int) -> dict[int, tuple[float, float]]:
    """n -> (x0 MSE with the others given clean, x0 MSE with the others pure noise)."""
    schedule = engine.schedule  # the package's: alpha(n / 1000) = sqrt(alpha_bar_n) at the knots
    den = engine.denoiser()
    rng = np.random.default_rng(seed)
    eps = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in z0.items()}
    out = {}
    for n in LEVELS:
        a, s = float(schedule.alpha(n / 1000)), float(schedule.sigma(n / 1000))
        errs = []
        for given in (True, False):
            z, t = {}, {}
            for k, v in z0.items():
                b = len(v)
                if k == target:
                    z[k], t[k] = a * v + s * eps[k], np.full(b, float(n), np.float32)
                elif given:
                    z[k], t[k] = v, np.zeros(b, np.float32)
                else:
                    z[k] = float(schedule.alpha(1.0)) * v + float(schedule.sigma(1.0)) * eps[k]
                    t[k] = np.full(b, 1000.0, np.float32)
            pred = den(z, t)[target]
            x0 = (z[target] - s * pred) / a
            errs.append(float(np.mean((x0 - z0[target]) ** 2)))
        out[n] = (errs[0], errs[1])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, action="append")
    parser.add_argument("--scenes", type=int, default=32)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    print(f"{args.scenes} held-back footprints (seeds {BENCH_SEED}..), x0 MSE in latent "
          f"variance units (1.0 = predicting the mean); 'given' = other modalities clean, "
          f"'none' = pure noise")
    for path in args.package or [PACKAGE]:
        engine = CopgenEngine.open(path)
        z0, s2_rmse = clean_latents(engine, args.scenes)
        print(f"\n{path} ({engine.package.model_version}): S2 tokenizer reconstruction RMSE "
              f"{s2_rmse:.0f} DN")
        print(f"{'target':<24}" + "".join(f"{f'n={n} given':>14}{f'n={n} none':>13}"
                                          for n in LEVELS))
        for target in engine.package.network_order:
            errs = x0_errors(engine, z0, target, seed=11)
            print(f"{target:<24}" + "".join(f"{g:>14.3f}{u:>13.3f}" for g, u in errs.values()))
        engine.close()
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
