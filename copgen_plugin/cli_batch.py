"""``python -m copgen_plugin gapfill-batch``: many scenes, one model, on a Dask scheduler.

    python -m copgen_plugin gapfill-batch SCENES --model M --out DIR [--scheduler S]
                                          [--split-scene] [gapfill options]

SCENES is a folder (one scene per subfolder), a glob, or a JSON/CSV table (see
``scale.scenes``). The gapfill options apply to every scene; a condition layer given here
(e.g. one regional ``--dem``) serves every scene that has none of its own. Outputs:
``DIR/<name>/filled.tif``, ``spread.tif``, ``samples/`` and ``DIR/batch_report.json``.
Rerunning the same command skips finished scenes. Exit status 0 when every scene is done or
skipped, 1 otherwise (the report says which and why).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli import add_fill_arguments, build_request
from .cli_run import TextProgress, run_command

if TYPE_CHECKING:
    from .scale import BatchReport

#: gapfill options that are per scene or per output file: not batch options
_NOT_SHARED = {"input", "out_filled", "out_spread", "out_samples", "mask", "help"}


def add_batch_command(commands: Any) -> None:
    """Register ``gapfill-batch`` with the gapfill options (one definition: the gapfill's)."""
    p = commands.add_parser("gapfill-batch", help="fill the gaps of many scenes on a Dask "
                            "scheduler (one output folder per scene, a batch report)")
    p.add_argument("scenes", metavar="SCENES",
                   help="a folder (one scene per subfolder), a glob, or a .json/.csv table")
    p.add_argument("--out", type=Path, required=True, help="output folder (one folder per scene)")
    p.add_argument("--scheduler", default="threads",
                   help="sync, threads[:N], local:N (N worker processes) or tcp://host:port "
                        "(default threads)")
    p.add_argument("--split-scene", action="store_true",
                   help="also run each scene's footprints as parallel tasks (same outputs)")
    template = argparse.ArgumentParser(add_help=False)
    add_fill_arguments(template, generate=False)
    for action in template._actions:
        if action.dest not in _NOT_SHARED:
            p._add_action(action)
    p.set_defaults(func=_batch, generate=False)


def _batch(args: argparse.Namespace) -> int:
    from .scale import read_scenes, run_batch

    logging.getLogger("copgen_plugin").setLevel(logging.INFO if args.verbose else logging.WARNING)
    bar = TextProgress(sys.stderr)
    placeholders = {"input": Path("scene"), "out_filled": Path("filled.tif"),
                    "out_spread": Path("spread.tif"), "out_samples": Path("samples"),
                    "mask": None}

    def work() -> BatchReport:
        base = build_request(argparse.Namespace(**{**vars(args), **placeholders}))
        scenes = read_scenes(args.scenes, modality=args.modality)
        return run_batch(scenes, base, args.out, scheduler=args.scheduler,
                         split_scene=args.split_scene, progress=None if args.quiet else bar,
                         log=bar.message)

    code, report = run_command(work, bar, errors=(argparse.ArgumentTypeError,),
                               interrupted="finished scenes are kept, rerun to do the rest")
    if report is None:
        return code
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print("\n".join(report.summary()))
        print(f"report: {Path(args.out) / 'batch_report.json'}")
    return 0 if report.ok else 1


