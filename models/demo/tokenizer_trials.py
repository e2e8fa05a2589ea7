"""Short S2-tokenizer trials (issue 19): which configuration keeps the parcel edges?

Each trial trains only the S2 tokenizer of ``tokenizers.py`` (same data, same loop, same seed) with
some knobs changed, and grades it every ``--every`` steps on the held-back footprints with
``models/demo/fidelity.py`` (the figures ``benchmarks/bench_spread.py`` prints for a package).
One line per grading, to stdout and appended to ``--log``:
``trial <name> step <n>: rmse <DN> gradient <ratio> (<s> s, <params> parameters)``.

CLI: ``python -m models.demo.tokenizer_trials --steps 400 z16:s2_z_channels=16
z16e:s2_z_channels=16,s2_edge_weight=0.5`` (run it under ``nice``; one thread by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from copgen_plugin.engine.modalities import denormalise, normalise_image
from models.autoencoder import AutoencoderKL
from models.checkpoints import load_file
from models.demo import data as dm
from models.demo.config import RECIPES, TrainConfig
from models.demo.fidelity import held_back_s2, roundtrip_figures
from models.demo.tokenizers import train_vae, vae_config

log = logging.getLogger(__name__)


@torch.no_grad()
def s2_roundtrip(vae: AutoencoderKL, cfg: TrainConfig, truth: np.ndarray) -> tuple[float, float]:
    """(RMSE DN, gradient ratio) of the posterior-mean round trip, as the engine does it."""
    spec = dm.engine_spec(cfg.specs()[dm.S2_KEY])
    x = torch.from_numpy(normalise_image(spec, truth))
    mean = torch.chunk(vae.encode_moments(x), 2, dim=1)[0]
    rec = vae.decoder(vae.post_quant_conv(mean)).numpy()
    return roundtrip_figures(truth, denormalise(spec, rec))


def shape_check(name: str, cfg: TrainConfig, out: Path) -> str:
    """Export random weights of this trial's shapes as a demo package and time one fill step
    on it: the package size and the denoiser's token count are what a wider or finer S2
    latent costs at inference (the trials only grade the tokenizer)."""
    from copgen_plugin.engine import CopgenEngine, GenerationRequest, PartialObservation
    from models.configs import BackboneConfig
    from models.demo.train import export_demo
    from models.denoiser import CopgenUViT

    specs = cfg.specs({k: 1.0 for k in dm.DEMO_KEYS})
    bcfg = BackboneConfig.for_modalities(specs.values(), cfg.embed_dim, cfg.depth, cfg.num_heads)
    vaes = {k: AutoencoderKL(vae_config(s, cfg), scale_factor=1.0) for k, s in specs.items()}
    path = export_demo(out / name, CopgenUViT(bcfg).eval(), vaes, specs, cfg, [])
    mb = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    engine = CopgenEngine.open(path)
    truth = held_back_s2(1)[0]
    observed = np.ones(truth.shape[1:], bool)
    observed[12:36, 12:36] = False
    req = GenerationRequest(targets=(dm.S2_KEY,), conditions={},
                            partial={dm.S2_KEY: PartialObservation(truth, observed)},
                            n_samples=8, steps=4, seed=0, batch_size=8)
    engine.generate(req)  # sessions created
    t0 = time.perf_counter()
    engine.generate(req)
    seconds = (time.perf_counter() - t0) / 4
    return (f"shapes {name}: S2 latent {specs[dm.S2_KEY].latent_shape}, {bcfg.num_tokens} "
            f"tokens, package {mb:.1f} MB, {seconds:.2f} s per step of 8 samples")


def parse_trial(text: str, base: TrainConfig) -> tuple[str, TrainConfig]:
    """``name:field=value,field=value`` -> (name, config)."""
    name, _, knobs = text.partition(":")
    types = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    changes: dict[str, float | int] = {}
    for item in filter(None, knobs.split(",")):
        field, _, value = item.partition("=")
        if types.get(field) not in ("int", "float"):
            raise SystemExit(f"{field!r} is not a numeric TrainConfig field")
        changes[field] = int(value) if types[field] == "int" else float(value)
    return name, dataclasses.replace(base, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.demo.tokenizer_trials",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("trials", nargs="+", help="name:field=value,... (TrainConfig fields)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log", type=Path, default=None, help="append the result lines here")
    parser.add_argument("--shapes", type=Path, default=None,
                        help="instead of training: export random-weight packages of each "
                             "trial's shapes here and print their size, tokens and step time")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="instead of training: grade these S2 tokenizer weights (a stage's "
                             "vae_*.pt or vae_*.partial.pt) built as the first trial says")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    base = dataclasses.replace(RECIPES[1], scenes=args.scenes, vae_steps_s2=args.steps,
                               threads=args.threads)
    trials = [parse_trial(t, base) for t in args.trials]
    if args.checkpoint is not None:
        name, cfg = trials[0]
        state = load_file(args.checkpoint)
        vae = AutoencoderKL(vae_config(cfg.specs()[dm.S2_KEY], cfg))
        vae.load_state_dict(state.get("model", state))
        rmse, ratio = s2_roundtrip(vae.eval(), cfg, held_back_s2())
        step = f" step {int(state['step'])}" if "step" in state else ""
        print(f"checkpoint {args.checkpoint}{step} ({name}): rmse {rmse:.1f} gradient "
              f"{ratio:.3f}")
        return 0
    if args.shapes is not None:
        for name, cfg in trials:
            line = shape_check(name, cfg, args.shapes)
            print(line, flush=True)
            if args.log is not None:
                with args.log.open("a") as f:
                    f.write(line + "\n")
        return 0
    data = {dm.S2_KEY: dm.build_dataset(range(args.scenes), base.specs())[dm.S2_KEY]}
    truth = held_back_s2()
    for name, cfg in trials:
        t0 = time.perf_counter()

        def grade(step: int, vae: AutoencoderKL, name: str = name, cfg: TrainConfig = cfg,
                  t0: float = t0) -> None:
            rmse, ratio = s2_roundtrip(vae, cfg, truth)
            params = sum(p.numel() for p in vae.parameters())
            line = (f"trial {name} step {step}: rmse {rmse:.1f} gradient {ratio:.3f} "
                    f"({time.perf_counter() - t0:.0f} s, {params} parameters)")
            print(line, flush=True)
            if args.log is not None:
                with args.log.open("a") as f:
                    f.write(line + "\n")

        train_vae(dm.S2_KEY, cfg.specs()[dm.S2_KEY], data, cfg, callback=grade, every=args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
