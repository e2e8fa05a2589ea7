"""Headless command line: the same requests as the Processing algorithms, without QGIS."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import __version__
from .diagnostics import DEVICE_PROVIDERS, collect, to_markdown

log = logging.getLogger("copgen_plugin")


def _diagnostics(args: argparse.Namespace) -> int:
    report = to_markdown(collect(device=args.device))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_name(args.output.name + ".partial")
        tmp.write_text(report, encoding="utf-8")
        tmp.replace(args.output)
        log.info("wrote %s", args.output)
    else:
        print(report, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m copgen_plugin", description=__doc__)
    parser.add_argument("--version", action="version", version=f"copgen_plugin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    diag = commands.add_parser("diagnostics", help="versions, ONNX Runtime device, models")
    diag.add_argument("--device", choices=sorted(DEVICE_PROVIDERS), default="auto")
    diag.add_argument("--output", type=Path, help="write the Markdown report here")
    diag.set_defaults(func=_diagnostics)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))
