"""What installing COP-GEN from official checkpoints costs without torch, beside the torch export.

Writes random official-layout checkpoints (``500000_nnet_ema.pth`` + ``vae/<folder>/
model-50-ema.pth``, written with torch, one module at a time), then in separate processes: the
template installer (``copgen_plugin.install.convert``, torch blocked) and ``python -m
models.export`` on the same files. Prints wall time, peak RSS (VmHWM of each child), disk use,
and the max abs difference of each graph's ORT outputs (one random input per graph).
Usage: ``.venv/bin/python benchmarks/bench_convert.py [--config base] [--work DIR] [--keep]``
(base: ~4.5 GB of checkpoints, ~9 GB of packages on disk, ~20 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from models.configs import select_modalities  # noqa: E402
from models.locate import EMA_FILE, NNET_FILE  # noqa: E402
from models.templates import max_output_diff, random_backbone, random_vae  # noqa: E402

INSTALL = """
import importlib.abc, json, resource, sys, time
from pathlib import Path
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "onnx", "models"):
            raise ImportError(name + " is blocked")
sys.meta_path.insert(0, Block())
from copgen_plugin.install.convert import install_from_checkpoints
a = json.loads(sys.argv[1])
fill = {}
def progress(fraction, message):  # peak RSS once every graph is filled, before ORT opens them
    if message.startswith("hashing") and not fill:
        fill["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        fill["seconds"] = time.perf_counter() - t0
t0 = time.perf_counter()
install_from_checkpoints(a["template"], Path(a["backbone"]),
                         {k: Path(v) for k, v in a["vaes"].items()}, Path(a["dest"]),
                         precision=a["precision"], progress=progress)
print(json.dumps({"seconds": time.perf_counter() - t0, "fill": fill}))
"""


def write_checkpoints(root: Path, config: str, keys: Sequence[str] | None,
                      seed: int = 11) -> dict[str, Path]:
    """Official-layout random checkpoints; returns VAE folder -> file."""
    specs = select_modalities(keys)
    root.mkdir(parents=True, exist_ok=True)
    model = random_backbone(config, specs, seed)
    torch.save(model.state_dict(), root / NNET_FILE)
    del model
    vaes = {}
    for spec in specs:
        if spec.is_image:
            path = root / "vae" / str(spec.vae_folder) / EMA_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            vae = random_vae(config, spec, seed)
            torch.save(vae.state_dict(), path)
            del vae
            vaes[str(spec.vae_folder)] = path
    return vaes


def run_child(cmd: list[str], log: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GiB, the child's VmHWM via wait4) and stdout of a child."""
    t0 = time.perf_counter()
    with log.open("w") as err, tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): see {log}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024**2, text


def du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024**3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="base")
    parser.add_argument("--template", default="copgen-base",
                        help="shipped template id or template folder")
    parser.add_argument("--modalities", nargs="+", default=None)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16"])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-convert-"))
    try:
        t0 = time.perf_counter()
        ckpt = work / "official"
        vaes = write_checkpoints(ckpt, args.config, args.modalities)
        print(f"checkpoints: {du(ckpt):.2f} GiB written in {time.perf_counter() - t0:.0f} s")
        install = {"template": args.template, "backbone": str(ckpt / NNET_FILE),
                   "vaes": {k: str(v) for k, v in vaes.items()},
                   "dest": str(work / "installed"), "precision": args.precision}
        wall, rss, out = run_child([sys.executable, "-c", INSTALL, json.dumps(install)],
                                   work / "install.log")
        inner = json.loads(out.strip().splitlines()[-1])
        print(f"install (no torch):   {wall:7.1f} s wall ({inner['seconds']:.1f} s in the "
              f"installer), peak RSS {rss:.2f} GiB, package {du(work / 'installed'):.2f} GiB")
        print(f"  of which filling the graphs: {inner['fill']['seconds']:.1f} s, peak RSS "
              f"{inner['fill']['rss_gib']:.2f} GiB (the rest: hashing, ONNX Runtime sessions)")
        cmd = [sys.executable, "-m", "models.export", "--checkpoint-dir", str(ckpt),
               "--config", args.config, "--out", str(work / "exported")]
        if args.precision == "fp16":
            cmd.append("--fp16")
        if args.modalities:
            cmd += ["--modalities", *args.modalities]
        wall, rss, _ = run_child(cmd, work / "export.log")
        print(f"torch export:         {wall:7.1f} s wall, peak RSS {rss:.2f} GiB, "
              f"package {du(work / 'exported'):.2f} GiB")
        worst = 0.0
        for graph in sorted((work / "exported").glob("*.onnx")):
            diff = max_output_diff(graph, work / "installed" / graph.name)
            worst = max(worst, diff)
            print(f"  {graph.name:42s} max abs diff {diff:.3g}")
        print(f"max abs diff over all graphs: {worst:.3g}")
        return 0 if worst <= 1e-6 else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
