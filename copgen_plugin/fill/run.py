"""``run_fill``: one gap fill or generation over a whole raster, from request to report.

Validate the request, resolve the model, map the layers onto the package's modalities, plan
the footprints, then (inside one all-or-nothing output set) copy the observed pixels and
generate footprint by footprint. Every decision taken on the user's behalf ends up in the
report: device actually used, S1 scale, date source, bands that could not be generated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rasterio

from ..engine.errors import InputError
from ..engine.generate import CopgenEngine
from ..engine.runtime import RuntimeOptions
from ..geo import DateChoice, OutputSet, layer_date
from .footprint import FootprintRunner, plan
from .inputs import (
    ConditionSetup,
    TargetSetup,
    check_outputs_apart,
    setup_condition,
    setup_target,
)
from .model import open_package, resolve_model
from .outputs import SPREAD_STATISTICS, choose_nodata, copy_observed, open_writers, sample_path
from .progress import GENERATED, PREPARED, CancelFn, LogFn, ProgressFn, RunFeedback
from .request import DEVICES, MODES, S1_SCALES, FillReport, FillRequest

_log = logging.getLogger(__name__)

#: GDAL block cache during a run (MB): plenty for footprint windows, and bounded, so memory
#: does not grow with the raster (GDAL's default is 5 % of the machine's RAM)
GDAL_CACHE_MB = 128


def validate(request: FillRequest) -> None:
    """Reject impossible requests before any work, with the parameter's name."""
    checks = [
        (request.mode in MODES, f"mode must be one of {MODES}, got {request.mode!r}"),
        (request.device in DEVICES, f"device must be one of {DEVICES}, got {request.device!r}"),
        (request.n_samples >= 1, f"n_samples must be >= 1, got {request.n_samples}"),
        (request.steps is None or request.steps >= 1, f"steps must be >= 1, got {request.steps}"),
        (request.seed >= 0, f"seed must be >= 0, got {request.seed}"),
        (request.batch_size >= 1, f"batch_size must be >= 1, got {request.batch_size}"),
        (request.threads >= 0, f"threads must be >= 0, got {request.threads}"),
        (math.isfinite(request.overlap_m) and request.overlap_m >= 0,
         f"overlap_m must be >= 0 m, got {request.overlap_m}"),
        (request.spread_statistic in SPREAD_STATISTICS,
         f"spread_statistic must be one of {SPREAD_STATISTICS}, got "
         f"{request.spread_statistic!r}"),
    ]
    for layer in (request.target, *request.conditions):
        checks.append((layer.s1_scale in S1_SCALES,
                       f"{layer.path.name}: s1_scale must be one of {S1_SCALES}"))
    families = [c.modality for c in request.conditions]
    dup = sorted({f for f in families if families.count(f) > 1})
    checks.append((not dup, f"one condition layer per modality; given several {dup}"))
    if request.mask is not None:
        checks.append((request.mode == "gapfill", "a gap mask only applies to gap filling"))
        checks.append((request.mask.is_file(), f"gap mask {request.mask} does not exist"))
    outs = request.outputs
    for p in (outs.filled, outs.spread):
        checks.append((p.parent.is_dir(), f"output folder {p.parent} does not exist"))
    checks.append((outs.samples_dir.is_dir() or outs.samples_dir.parent.is_dir(),
                   f"samples folder {outs.samples_dir} cannot be created (no parent folder)"))
    for ok, message in checks:
        if not ok:
            raise InputError(message)
    check_outputs_apart(request)
    names = {sample_path(outs.samples_dir, k).resolve() for k in range(1, request.n_samples + 1)}
    for p in (outs.filled, outs.spread, request.target.path,
              *(c.path for c in request.conditions)):
        if p.resolve() in names:
            raise InputError(f"{p} collides with a sample output in {outs.samples_dir}")


def resolve_date(date: dt.date | None, *, from_metadata: bool, target: Path
                 ) -> DateChoice | None:
    """The parameter, else the target's metadata (if allowed), else None: generated."""
    if date is not None:
        return DateChoice(date, "parameter")
    if from_metadata:
        return layer_date(target)
    return None


def _grid_text(target: TargetSetup) -> str:
    g = target.grid
    xres, yres = g.res
    return (f"{g.width} x {g.height} px of {xres:.6g} x {yres:.6g} {g.crs.linear_units or 'units'}"
            f", {g.crs.to_string()}, origin ({g.transform.c:.6f}, {g.transform.f:.6f})")


#: builds the object that generates and writes footprint ``i`` on ``run(i)`` and sums up what
#: it did (``device``, ``stats``, ``held_pixels``, ``filled_holes``, ``dropped``,
#: ``generated_dates``), like :class:`FootprintRunner`, from FootprintRunner's keyword
#: arguments (scale/ passes one that runs the footprints as tasks of a Dask graph and replays
#: their writes in scan order)
RunnerFactory = Callable[..., Any]


def run_fill(request: FillRequest, *, progress: ProgressFn | None = None,
             cancel: CancelFn | None = None, log: LogFn | None = None,
             engine: CopgenEngine | None = None,
             runner_factory: RunnerFactory | None = None) -> FillReport:
    """Run one gap fill (``mode="gapfill"``) or generation (``"generate"``) over the target.

    Writes N samples (``sample_<k>.tif``), the filled raster and the spread raster, all on the
    target's grid, all or none. Raises ``InputError`` (a ``CopgenError``) for bad input and
    ``Cancelled`` when ``cancel()`` turns true (checked between footprints and solver steps);
    in both cases no output file is left behind. Inputs are only read.

    ``engine``: sessions to reuse (a batch keeps one per worker; it is not closed here); its
    package must be the one ``request.model`` names. ``runner_factory``: see ``RunnerFactory``.
    """
    started = time.monotonic()
    fb = RunFeedback(progress, cancel, log)
    validate(request)
    fb.report(0.0, "opening the model package")
    if engine is None:
        package = open_package(request.model)
    elif resolve_model(request.model) != engine.package.root.resolve():
        raise InputError(f"the engine given holds {engine.package.root}, the request names "
                         f"{request.model}")
    else:
        package = engine.package
    own_engine = engine is None
    steps = request.steps or package.solver.steps
    report = FillReport(
        model_id=package.model_id, model_version=package.model_version,
        demo_model=package.demo, seed=request.seed, steps=steps, n_samples=request.n_samples,
        mode=request.mode)
    fb.info(f"model {package.model_id} {package.model_version} ({package.root})")
    if package.demo:
        report.notes.append(f"demo model: {package.title}")
    target = setup_target(request, package)
    conditions: list[ConditionSetup] = []
    for layer in request.conditions:
        cond, notes = setup_condition(layer, package, target)
        conditions.append(cond)
        report.notes.extend(notes)
    report.s1_scale = [f"{c.layer.path.name}: {c.s1.scale} ({c.s1.source}: {c.s1.reason})"
                       for c in conditions if c.s1 is not None]
    if target.s1 is not None:
        report.s1_scale.insert(0, f"{target.path.name}: {target.s1.scale} "
                                  f"({target.s1.source}: {target.s1.reason})")
    date = resolve_date(request.date, from_metadata=request.date_from_metadata,
                        target=target.path)
    has_time = bool(package.keys_of_family("timestamps"))
    if date is not None and not has_time:
        report.notes.append(f"model {package.model_id} has no date input; the date is ignored")
    report.date = date.date.isoformat() if date is not None else "generated"
    report.date_source = (date.source if date is not None else
                          "none given or found: generated jointly with each sample")

    fb.report(0.01, "planning footprints")
    fp_plan, gap_pixels = plan(target, package, overlap_m=request.overlap_m, mask=request.mask)
    report.working_crs = fp_plan.crs.to_string()
    report.grid = _grid_text(target)
    report.footprints_total = fp_plan.n_candidates
    report.gap_pixels = gap_pixels
    report.generated_modalities = [g.key for g in target.groups]
    fb.info(f"{gap_pixels} pixels to generate in {len(fp_plan)} of {fp_plan.n_candidates} "
            f"footprints of {package.footprint_m:g} m (overlap {fp_plan.overlap_m:g} m), "
            f"working CRS {report.working_crs}")
    _describe(report, target, conditions, gap_pixels, dated=date is not None,
              has_time=has_time, has_location=bool(package.keys_of_family("lat_lon")),
              harmonise=request.harmonise)
    if target.mode == "gapfill" and target.ungenerated and gap_pixels and target.nodata is None:
        target = dataclasses.replace(target, nodata=choose_nodata(target))
        report.notes.append(f"the layer has no nodata value; outputs mark unfilled gap pixels "
                            f"with nodata {target.nodata:g}")

    outs = request.outputs
    created = not outs.samples_dir.exists()
    outs.samples_dir.mkdir(exist_ok=True)
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20), OutputSet() as out_set:
            tags = _tags(report, request)
            writers = open_writers(out_set, target, filled=outs.filled, spread=outs.spread,
                                   samples_dir=outs.samples_dir, n_samples=request.n_samples,
                                   statistic=request.spread_statistic, tags=tags)
            if target.mode == "gapfill":
                fb.report(0.02, "copying the observed pixels")
                copy_observed(writers, target, mask=request.mask, cancel=fb.cancelled,
                              progress=lambda f: fb.report(
                                  0.02 + (PREPARED - 0.02) * f, "copying the observed pixels"))
                fb.check("while copying the observed pixels")
            fb.report(PREPARED, f"{len(fp_plan)} footprints to generate")
            if len(fp_plan):
                if engine is None:
                    engine = CopgenEngine(package, RuntimeOptions(
                        device=request.device, intra_op_threads=request.threads or None))
                runner = (runner_factory or FootprintRunner)(
                    engine=engine, target=target, conditions=conditions, fp_plan=fp_plan,
                    writers=writers, feedback=fb, mask=request.mask,
                    date=date.date if date is not None and has_time else None,
                    n_samples=request.n_samples, steps=steps, seed=request.seed,
                    batch_size=request.batch_size, statistic=request.spread_statistic,
                    harmonise=request.harmonise)
                report.footprints_run = sum(runner.run(i) for i in range(len(fp_plan)))
                _after_run(report, runner, engine, gap_pixels)
            else:
                report.device = "none (nothing to generate)"
            fb.check("before publishing the outputs")
            fb.report(GENERATED, "publishing the outputs")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                outs.samples_dir.rmdir()  # only if empty: never removes anything else
        raise
    finally:
        if own_engine and engine is not None:
            engine.close()
    report.outputs = {"filled": str(outs.filled), "spread": str(outs.spread),
                      "samples_dir": str(outs.samples_dir)}
    report.sample_paths = [str(sample_path(outs.samples_dir, k))
                           for k in range(1, request.n_samples + 1)]
    report.seconds = time.monotonic() - started
    fb.report(1.0, "done")
    for note in report.notes:
        fb.info(f"note: {note}")
    return report


def _describe(report: FillReport, target: TargetSetup, conditions: list[ConditionSetup],
              gap_pixels: int, *, dated: bool, has_time: bool, has_location: bool,
              harmonise: bool) -> None:
    """Conditions used and notes known before generating."""
    report.conditions = [c.description for c in conditions]
    if report.gap_pixels and target.mode == "gapfill":
        report.conditions.insert(0, f"{target.family} target: observed pixels held "
                                    f"({target.layout_source})")
    if has_location:
        report.conditions.append("lat/lon: centre of each footprint")
    else:
        report.notes.append(f"model {report.model_id} has no location input")
    if has_time:
        report.conditions.append(f"date: {report.date} ({report.date_source})" if dated
                                 else "date: generated with the samples (none given or found)")
    report.ungenerated_bands = list(target.ungenerated_names)
    report.harmonised = harmonise and not target.categorical
    keys = ", ".join(g.key for g in target.groups)
    if target.mode == "gapfill" and target.ungenerated_names:
        report.notes.append(
            f"the model generates {keys} only: band(s) {', '.join(target.ungenerated_names)} "
            "cannot be generated; they are copied through with their gap pixels left as nodata")
    elif target.ungenerated_names:
        report.notes.append(f"the model generates {keys} only: the outputs hold "
                            f"{', '.join(target.descriptions)}, not "
                            f"{', '.join(target.ungenerated_names)}")
    if target.mode == "gapfill" and gap_pixels == 0:
        report.notes.append("no gaps: the input is copied to every output (spread all nodata)")
    total = target.grid.width * target.grid.height
    scalars = " and ".join(n for n, ok in (("location", has_location),
                                           ("date", dated and has_time)) if ok)
    if not conditions and gap_pixels and (target.mode == "generate" or gap_pixels == total):
        report.notes.append("no conditions and nothing observed: unconditional generation"
                            + (f" (only the {scalars} condition it)" if scalars else ""))
    elif not conditions and gap_pixels:
        report.notes.append("no condition layers: gaps are generated from the observed pixels"
                            + (f" and the {scalars}" if scalars else "") + " only")


def _after_run(report: FillReport, runner: FootprintRunner, engine: CopgenEngine,
               gap_pixels: int) -> None:
    report.device = runner.device
    report.providers = engine.providers
    report.pixels_written = runner.stats.pixels
    if runner.generated_dates:
        report.date_source = ("none given or found: generated with each sample, per footprint "
                              f"(footprint 1: {', '.join(runner.generated_dates)})")
    if runner.stats.nodata_class:
        report.notes.append(
            f"the model chose its 'no data' class for {runner.stats.nodata_class} gap pixel(s) "
            "of the filled raster; they equal the layer's nodata and read as gaps")
    if runner.stats.pixels < gap_pixels:
        report.notes.append(f"{gap_pixels - runner.stats.pixels} gap pixel(s) were not covered by "
                            "any footprint's generated area and keep their input values")
    for key, n in runner.filled_holes.items():
        report.notes.append(f"{key}: condition holes filled in {n} footprint(s) (at least 90 % "
                            "covered)")
    for key, n in runner.dropped.items():
        report.notes.append(f"{key}: condition covers under 90 % of {n} footprint(s); generated "
                            "there instead of conditioning")
    if runner.held_pixels:
        report.notes.append(f"seams: {runner.held_pixels} overlap pixels generated by earlier "
                            "footprints were held per sample")


def _tags(report: FillReport, request: FillRequest) -> dict[str, str]:
    return {
        "COPGEN_MODEL_ID": report.model_id, "COPGEN_MODEL_VERSION": report.model_version,
        "COPGEN_MODE": request.mode, "COPGEN_SEED": str(request.seed),
        "COPGEN_STEPS": str(report.steps), "COPGEN_SAMPLES": str(request.n_samples),
        "COPGEN_DATE": f"{report.date} ({report.date_source})",
        "COPGEN_OVERLAP_M": f"{request.overlap_m:g}",
        "COPGEN_HARMONISED": "yes" if report.harmonised else "no",
    }

