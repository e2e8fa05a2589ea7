"""`python -m copgen_plugin install-deps`: the headless door of the dependency installer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..cli_run import run_command
from .plan import FLAVOURS


def add_install_command(commands: Any) -> None:
    """Add the ``install-deps`` subcommand to the CLI's subparsers."""
    p = commands.add_parser(
        "install-deps", help="install onnxruntime, rasterio and huggingface-hub into the "
        "plugin's own folder for this Python (pip; QGIS's numpy is kept)")
    p.add_argument("--flavour", choices=FLAVOURS, default="auto",
                   help="ONNX Runtime build: gpu (onnxruntime-gpu with CUDA/cuDNN wheels), cpu, "
                   "or auto (gpu when nvidia-smi lists a GPU)")
    p.add_argument("--index-url", help="package index (default: pip's, i.e. PyPI)")
    p.add_argument("--find-links", type=Path, metavar="DIR",
                   help="a folder of wheels; without --index-url it is the only source "
                   "(offline install)")
    p.add_argument("--python", type=Path, help="the Python to install for (default: this "
                   "one, found as a real interpreter; $COPGEN_PYTHON)")
    p.add_argument("--force", action="store_true", help="reinstall even if complete")
    p.set_defaults(func=run_install_command)


def run_install_command(args: argparse.Namespace) -> int:
    """Run the installer with every pip line on stderr; one summary line on stdout."""
    from .installer import InstallOptions, install

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    options = InstallOptions(flavour=args.flavour, index_url=args.index_url,
                             find_links=args.find_links, python=args.python, force=args.force)
    code, result = run_command(lambda: install(options, log=log), None,
                               interrupted="the previous dependency folder is unchanged")
    if result is None:
        return code
    print(f"{result.status}: {result.folder} ({result.flavour}; {len(result.packages)} "
          f"packages; {result.seconds:.0f} s)")
    return 0
