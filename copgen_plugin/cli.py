"""Headless command line: the same requests as the Processing algorithms, without QGIS.

    python -m copgen_plugin diagnostics [--device cpu] [--output report.md]
    python -m copgen_plugin gapfill INPUT --model M --out-filled F --out-spread S
                                    --out-samples DIR [--dem P] [--s1 P] ... [--samples N]
    python -m copgen_plugin generate REFERENCE --modality S2L2A --model M ... --s1 P --dem P
    python -m copgen_plugin gapfill-batch SCENES --model M --out DIR --scheduler local:4 ...
    python -m copgen_plugin install-deps [--flavour auto|cpu|gpu] [--find-links DIR]
    python -m copgen_plugin download [copgen-base | owner/name] [--out DIR] [--revision REV]
    python -m copgen_plugin --cpu-backend onnxruntime gapfill ...   (force ONNX Runtime on a CPU)

Exit status 0 on success, 1 with one ``error: ...`` line on stderr otherwise (128 + the
signal's number when SIGTERM or SIGHUP stopped the run: handled like Ctrl-C, the partial files
are removed); a text progress bar goes to stderr, the run report to stdout (``--json`` for a
machine-readable one). GDAL's and the engine's messages only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import __version__
from .cli_run import TextProgress, run_command, stop_signals_as_interrupts
from .diagnostics import DEVICE_PROVIDERS, collect, to_markdown, write_report
from .engine.backends import CPU_BACKENDS
from .engine.backends import ENV_VAR as CPU_ENV_VAR
from .engine.verify import VERIFY_MODES
from .errors import InputError
from .fill import options
from .fill.request import FillOutputs, FillRequest, GapSources, LayerInput
from .install import deps
from .install.command import add_install_command
from .install.sitedir import activate

if TYPE_CHECKING:
    from .fill.report import FillReport

log = logging.getLogger("copgen_plugin")

T = TypeVar("T")
R = TypeVar("R")

def _diagnostics(args: argparse.Namespace) -> int:
    facts = collect(device=args.device, verify=args.verify)
    if args.output:
        write_report(args.output, facts)
        log.info("wrote %s", args.output)
    else:
        print(to_markdown(facts), end="")
    failed = [p for p in facts["model_verification"].split("; ") if p.startswith("FAILED")]
    for line in failed:
        print(f"error: model package verification {line}", file=sys.stderr)
    return 1 if failed else 0


def _date(text: str) -> dt.date | None:
    try:
        return options.parse_date(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_fill_arguments(p: argparse.ArgumentParser, *, generate: bool) -> None:
    """The gapfill/generate arguments (reusable: e.g. a batch subcommand builds on them)."""
    p.add_argument("input", type=Path, metavar="REFERENCE" if generate else "INPUT",
                   help="grid of the generated rasters" if generate
                   else "the layer with gaps (nodata and/or --mask), or a Sentinel-2 SAFE "
                   "folder or zip, a STAC item JSON or a folder of band files")
    p.add_argument("--modality", choices=options.LAYER_MODALITIES, required=generate,
                   default=None if generate else "S2L2A",
                   help="modality to generate" if generate
                   else "modality of INPUT (default S2L2A)")
    p.add_argument("--model", required=True, help="model package folder or installed model id")
    p.add_argument("--out-filled", type=Path, required=True,
                   help="mean of the samples (gapfill: observed pixels + mean in the gaps)")
    p.add_argument("--out-spread", type=Path, required=True, help="per-pixel spread raster")
    p.add_argument("--out-samples", type=Path, required=True,
                   help="folder for sample_<k>.tif (created if missing)")
    if not generate:
        p.add_argument("--mask", type=Path, help="gap mask raster (non-zero = gap), any grid")
        p.add_argument("--nodata", type=float, help="nodata of INPUT (overrides the file's)")
        _add_gap_arguments(p)
    p.add_argument("--bands", help="band mapping of INPUT ('B04,B03,B02,B08' or 'B02:1,...')")
    for slot in options.CONDITIONS:
        p.add_argument(f"--{slot.option.replace('_', '-')}", type=Path, dest=slot.option,
                       metavar="PATH", help=f"condition layer: {slot.family}")
    p.add_argument("--condition-bands", action="append", metavar="FAMILY=MAPPING",
                   help="band mapping of a condition layer, e.g. S2L1C=B02,B03,B04,B08")
    p.add_argument("--s1-scale", choices=options.S1_SCALES, default="auto",
                   help="S1 values in dB or linear power (default: detected and reported)")
    p.add_argument("--lulc-remap", help="land cover numbering of the LULC layer: 'terramind' "
                   "or 'from:to,...' into COP-GEN's Esri codes")
    p.add_argument("--date", type=_date, help="acquisition date YYYY-MM-DD (default: from "
                   "the layer's metadata, else generated)")
    p.add_argument("--no-date-from-metadata", action="store_true",
                   help="do not read the date from INPUT's tags")
    p.add_argument("--samples", type=int, default=4, help="number of samples N (default 4)")
    p.add_argument("--steps", type=int, help="solver steps (default: the model's, 50)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", choices=options.DEVICES, default="auto")
    p.add_argument("--precision", choices=options.PRECISIONS, default="auto",
                   help="graph variant: auto = the one made for the device got (fp16 on CUDA, "
                        "fp32 on the CPU); fp32/fp16 force one")
    p.add_argument("--overlap", type=float, default=320.0, help="footprint overlap in metres")
    p.add_argument("--batch-size", type=int, default=4, help="samples per denoiser call")
    p.add_argument("--batch-rows", type=int, default=0,
                   help="samples of several non-overlapping footprints per denoiser call "
                        "(0: from the model's size and the device)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: automatic)")
    p.add_argument("--spread-statistic", choices=options.SPREAD_STATISTICS, default="std")
    p.add_argument("--no-harmonise", action="store_true",
                   help="do not blend generated pixels into their surroundings (raw samples)")
    p.add_argument(options.ACCEPT_UNUSUAL_VALUES.option, action="store_true",
                   dest="accept_unusual_values", help=options.ACCEPT_UNUSUAL_VALUES.help)
    if not generate:
        sc = options.SELF_CHECK
        p.add_argument(sc.option, dest="self_check", metavar="FRACTION", default=str(sc.default),
                       help=f"{sc.label}. {sc.help}")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="engine and geo log messages")
    p.set_defaults(func=_fill, generate=generate)


def _add_gap_arguments(p: argparse.ArgumentParser) -> None:
    """Cloud and shadow gaps, ORed with nodata and --mask."""
    p.add_argument("--mask-scl", metavar="PATH", help="SCL layer whose --scl-classes are gaps; "
                   "'product': the SCL of the INPUT product (SAFE / STAC)")
    p.add_argument("--scl-classes", default=",".join(map(str, options.DEFAULT_SCL_CLASSES)),
                   help="SCL classes to fill (default 3,8,9,10,1: cloud shadows, clouds "
                   "medium/high, thin cirrus, saturated)")
    p.add_argument("--mask-probability", type=Path, metavar="PATH",
                   help="cloud-probability layer (0-1 or 0-100, detected)")
    p.add_argument("--probability-threshold", type=float,
                   default=options.DEFAULT_PROBABILITY_THRESHOLD,
                   help="gap where the probability is at least this (0-1, or percent)")
    p.add_argument("--mask-detector", action="store_true",
                   help="detect clouds and shadows offline (ukis-csmask models, ONNX Runtime)")
    p.add_argument("--mask-buffer", type=float, default=options.DEFAULT_BUFFER_M,
                   metavar="METRES",
                   help="buffer around the cloud masks in metres (default 60; 0 allowed)")


def _gap_sources(args: argparse.Namespace) -> GapSources:
    if not hasattr(args, "mask_scl"):
        return GapSources()
    classes = _parsed("--scl-classes", options.parse_scl_classes, args.scl_classes)
    threshold = _parsed("--probability-threshold", options.probability_threshold,
                        args.probability_threshold)
    scl = args.mask_scl
    from_product = scl is not None and scl.strip().lower() == "product"
    return GapSources(scl=None if scl is None or from_product else Path(scl),
                      scl_from_product=from_product, scl_classes=classes,
                      probability=args.mask_probability, probability_threshold=threshold,
                      detector=args.mask_detector, buffer_m=args.mask_buffer)


def _parsed(what: str, parse: Callable[[T], R], text: T) -> R:
    """One of the shared text parsers, its error naming the CLI option."""
    try:
        return parse(text)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


def build_request(args: argparse.Namespace) -> FillRequest:
    """Parsed arguments -> FillRequest (the same request the Processing algorithm builds)."""
    remap = _parsed("--lulc-remap", options.parse_lulc_remap, args.lulc_remap)
    cond_bands = _parsed("--condition-bands", options.parse_condition_bands,
                         args.condition_bands)

    def layer(path: Path, family: options.LayerModality, bands: str | None,
              nodata: float | None = None) -> LayerInput:
        return LayerInput(path=path, modality=family, bands=bands, s1_scale=args.s1_scale,
                          code_remap=remap if family == "LULC" else None, nodata=nodata)

    target = layer(args.input, args.modality, args.bands, getattr(args, "nodata", None))
    conditions = tuple(layer(getattr(args, slot.option), slot.family,
                             cond_bands.get(slot.family))
                       for slot in options.CONDITIONS if getattr(args, slot.option) is not None)
    return FillRequest(
        mode="generate" if args.generate else "gapfill", target=target,
        outputs=FillOutputs(filled=args.out_filled, spread=args.out_spread,
                            samples_dir=args.out_samples),
        model=args.model, conditions=conditions, mask=getattr(args, "mask", None),
        date=args.date, date_from_metadata=not args.no_date_from_metadata,
        n_samples=args.samples, steps=args.steps, seed=args.seed, device=args.device,
        precision=args.precision,
        overlap_m=args.overlap, batch_size=args.batch_size, threads=args.threads,
        batch_rows=args.batch_rows,
        spread_statistic=args.spread_statistic, harmonise=not args.no_harmonise,
        gap_sources=_gap_sources(args),
        self_check=_parsed(options.SELF_CHECK.option, options.parse_self_check,
                           getattr(args, "self_check", None)),
        accept_unusual_values=args.accept_unusual_values)


#: signals that stop a run like Ctrl-C: what kill, systemd, batch schedulers and a closed
#: terminal send
def _fill(args: argparse.Namespace) -> int:
    from .engine.runtime import import_onnxruntime
    from .fill import run_fill, summary_lines

    level = logging.INFO if args.verbose else logging.WARNING
    logging.getLogger("copgen_plugin").setLevel(level)
    logging.getLogger("rasterio").setLevel(logging.INFO if args.verbose else logging.ERROR)
    bar = TextProgress(sys.stderr)

    def work() -> FillReport:
        request = build_request(args)
        # imported before the stop signals are armed: a signal raised inside onnxruntime's own
        # import would surface as a confusing "not installed" error instead of a clean stop
        # (a stop swallowed later, as openvino's import did, is raised again by ``stopped``)
        import_onnxruntime()
        with stop_signals_as_interrupts() as stopped:
            return run_fill(request, progress=None if args.quiet else bar, cancel=stopped,
                            log=bar.message if args.verbose else None)

    code, report = run_command(work, bar,
                               interrupted="no output was written (partial files removed)")
    if report is None:
        return code
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2, default=str))
    else:
        print("\n".join(summary_lines(report)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m copgen_plugin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"copgen_plugin {__version__}")
    parser.add_argument("--cpu-backend", choices=CPU_BACKENDS, default=None,
                        help="who runs the denoiser on a CPU: auto (OpenVINO bf16 where "
                        "openvino is installed, else ONNX Runtime fp32), openvino, onnxruntime; "
                        f"before the command (default: ${CPU_ENV_VAR} or auto)")
    commands = parser.add_subparsers(dest="command", required=True)
    diag = commands.add_parser("diagnostics", help="versions, ONNX Runtime device, models")
    diag.add_argument("--device", choices=sorted(DEVICE_PROVIDERS), default="auto")
    diag.add_argument("--output", type=Path, help="write the Markdown report here")
    diag.add_argument("--verify", choices=VERIFY_MODES, default="none",
                      help="check the model packages' files: full = every SHA-256 now "
                      "(default none: that they exist)")
    diag.set_defaults(func=_diagnostics)
    add_fill_arguments(commands.add_parser(
        "gapfill", help="fill the gaps of a layer: N samples, filled and spread rasters"),
        generate=False)
    add_fill_arguments(commands.add_parser(
        "generate", help="generate a whole modality on a reference grid from conditions"),
        generate=True)
    from .cli_batch import add_batch_command  # gapfill-batch: many scenes on Dask

    add_batch_command(commands)
    add_install_command(commands)
    from .cli_download import add_command

    add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("copgen_plugin").setLevel(logging.INFO)
    activate()  # the plugin's dependency folder, as at plugin load
    args = build_parser().parse_args(argv)
    if args.cpu_backend:  # through the environment, so Dask workers started later see it too
        os.environ[CPU_ENV_VAR] = args.cpu_backend
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:  # a run-time package missing: the install hint instead
        status = deps.check()
        if (exc.name or "").split(".")[0] not in deps.RUNTIME_MODULES or status.ok:
            raise
        print(f"error: {status.message()}", file=sys.stderr)
        return 1
