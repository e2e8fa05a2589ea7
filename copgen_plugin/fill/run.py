"""``run_fill``: one gap fill or generation over a whole raster, from request to report.

It reads like the data flow of ../shared/DESIGN.md: (1) the request is validated and the
layers mapped onto the package's modalities, (2) the footprints are planned over the gaps,
(3-5) inside one all-or-nothing output set the observed pixels are copied and each footprint
is read, generated and written, (6) the outputs are published together. Every decision taken
on the user's behalf ends up in the report (``report``): device actually used, S1 scale, date
source, bands that could not be generated.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError

from ..engine.batches import default_rows
from ..engine.generate import CopgenEngine
from ..engine.package import ModelPackage
from ..engine.runtime import RuntimeOptions
from ..errors import InputError
from ..geo import DateChoice, FootprintPlan, OutputSet, resolve_date
from . import folders, plausibility
from . import report as rep
from .footprint import FootprintRunner, plan, wavefront_batches
from .gaps import prepare_gaps
from .inputs import ConditionSetup, TargetSetup, setup_condition, setup_target
from .model import open_package, resolve_model
from .options import MAX_RASTER_PIXELS
from .outputs import FillWriters, choose_nodata, copy_observed, open_writers
from .progress import GENERATED, PREPARED, CancelFn, LogFn, ProgressFn, RunFeedback
from .report import FillReport
from .request import FillRequest, validate
from .selfcheck import SelfCheck
from .selfcheck_files import write_files

_log = logging.getLogger(__name__)

#: GDAL block cache during a run (MB): plenty for footprint windows, and bounded, so memory
#: does not grow with the raster (GDAL's default is 5 % of the machine's RAM)
GDAL_CACHE_MB = 128
#: GDAL settings of a whole run: a bounded block cache; side files (``.aux.xml``) read the same
#: way at both doors (they may hold a layer's nodata or band names), even under qgis_process,
#: where the plugin turns them off for QGIS's own layer loading (``plugin.py``). The run's
#: reads never write one: they compute no statistics, so the inputs' folders stay unchanged
GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "YES", "GDAL_CACHEMAX": GDAL_CACHE_MB * 2**20}


@dataclass
class _Setup:
    """Everything decided before the first pixel is written."""

    package: ModelPackage
    target: TargetSetup
    conditions: list[ConditionSetup]
    date: DateChoice | None
    has_time: bool
    plan: FootprintPlan


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
    """``_run_fill`` after ``prepare_gaps``: a product target is read through its 10 m stack
    and the gap sources become one mask, both in a temporary folder removed afterwards; a
    product's outputs are also written at 20 and 60 m."""
    validate(request)
    if progress is not None:
        progress(0.0, "reading the product and the gap sources")
    with rasterio.Env(**GDAL_OPTIONS), \
            tempfile.TemporaryDirectory(prefix="copgen_gaps_") as tmp:
        _check_raster_size(request.target.path)  # before the gap sources read the whole layer
        prepared = prepare_gaps(request, Path(tmp), cancel=cancel)
        report = _run_fill(prepared.request, progress=progress, cancel=cancel, log=log,
                           engine=engine, runner_factory=runner_factory)
    prepared.finish(report)
    return report


def _run_fill(request: FillRequest, *, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None, log: LogFn | None = None,
              engine: CopgenEngine | None = None,
              runner_factory: RunnerFactory | None = None) -> FillReport:
    """Run one gap fill (``mode="gapfill"``) or generation (``"generate"``) over the target.

    Writes N samples (``sample_<k>.tif``), the filled raster and the spread raster, all on the
    target's grid, all or none. Raises ``InputError`` (a ``CopgenError``) for bad input and
    ``Cancelled`` when ``cancel()`` turns true (checked between footprints and solver steps);
    in both cases no output file (and no output folder the run created) is left behind.
    Inputs are only read. ``OutputError`` when the outputs do not fit (checked before the
    first write) or cannot be written (nothing is published then).

    ``engine``: sessions to reuse (a batch keeps one per worker; it is not closed here); its
    package must be the one ``request.model`` names. ``runner_factory``: see ``RunnerFactory``.
    """
    started = time.monotonic()
    fb = RunFeedback(progress, cancel, log)
    validate(request)  # 1. the request
    fb.report(0.0, "opening the model package")
    if engine is None:
        package = open_package(request.model)
    elif resolve_model(request.model) != engine.package.root.resolve():
        raise InputError(f"the engine given holds {engine.package.root}, the request names "
                         f"{request.model}")
    else:
        package = engine.package
    report = rep.start(request, model_id=package.model_id, model_version=package.model_version,
                       demo=package.demo, steps=request.steps or package.solver.steps)
    fb.info(f"model {package.model_id} {package.model_version} ({package.root})")
    if package.demo:
        report.notes.append(f"demo model: {package.title}")
    setup = _set_up(request, package, report, fb)  # 1-2. layers -> modalities, the plan
    outs = request.outputs
    t = setup.target
    folders.check_free_space(outs, folders.output_needs(
        outs, t.grid.width, t.grid.height, t.count, t.dtype, request.n_samples))
    stale, foreign = folders.stale_samples(outs, request.n_samples)
    with folders.output_folders(outs), OutputSet() as out_set:  # 6. all published, or none
        for p in folders.clear_stale(outs):
            report.notes.append(f"removed {p.name}: a partial file of an earlier run that was "
                                "killed")
        writers = open_writers(out_set, setup.target, request.outputs, n_samples=request.n_samples,
                               statistic=request.spread_statistic,
                               tags=rep.tags(report, request))
        if setup.target.mode == "gapfill":
            _copy_observed(writers, setup.target, request, fb)
        fb.report(PREPARED, f"{len(setup.plan)} footprints to generate")
        _generate(request, setup, writers, report, fb, engine=engine,
                  runner_factory=runner_factory)  # 3-5. per footprint
        fb.check("before publishing the outputs")
        fb.report(GENERATED, "publishing the outputs")
    for p in folders.remove_stale_samples(stale):
        report.notes.append(f"removed {p.name}: a sample of an earlier run with more samples")
    if foreign:
        report.notes.append(f"left {', '.join(p.name for p in foreign)} in the samples folder: "
                            "not written by COP-GEN (no COPGEN_PRODUCT=sample tag)")
    if report.self_check:
        files, note = write_files(report.self_check, request.outputs.filled)
        report.self_check["files"] = files
        if note:
            report.notes.append(note)
    rep.finish(report, request, time.monotonic() - started)
    fb.report(1.0, "done")
    return report


def check_values(request: FillRequest, package: ModelPackage, target: TargetSetup,
                 conditions: list[ConditionSetup]) -> list[str]:
    """The layers' values against their modalities (``plausibility``): an ``InputError`` with
    the fix, or notes when the request accepts unusual values. A generated target's values
    are not used, so only its grid matters."""
    accept = request.accept_unusual_values
    notes: list[str] = []
    if target.mode == "gapfill":
        layer = request.target
        what = f"{target.family} target layer {target.path.name}"
        notes += plausibility.judge(plausibility.layer_problems(
            target.path, target.family, target.generated, package, nodata=target.nodata,
            s1_scale=layer.s1_scale, code_remap=target.code_remap, mapped=bool(layer.bands)),
            what, accept=accept)
    for cond in conditions:
        layer = cond.layer
        bands = {b for g in cond.groups for b in g.bands}
        what = f"{cond.family} condition {layer.path.name}"
        notes += plausibility.judge(plausibility.layer_problems(
            layer.path, cond.family, bands, package, nodata=layer.nodata,
            s1_scale=layer.s1_scale, code_remap=layer.code_remap, mapped=bool(layer.bands)),
            what, accept=accept)
    return notes


def _set_up(request: FillRequest, package: ModelPackage, report: FillReport,
            fb: RunFeedback) -> _Setup:
    """Layers onto the package's modalities, the date, the footprint plan; the report's
    description of all of it."""
    target = setup_target(request, package)
    _check_size(request.target.path, target.grid.width, target.grid.height)
    conditions: list[ConditionSetup] = []
    for layer in request.conditions:
        cond, notes = setup_condition(layer, package, target)
        conditions.append(cond)
        report.notes.extend(notes)
    fb.report(0.005, "checking the layers' values")
    report.notes.extend(check_values(request, package, target, conditions))
    date = resolve_date(request.date, required=False,
                        paths=[target.path] if request.date_from_metadata else [])
    has_time = bool(package.keys_of_family("timestamps"))
    fb.report(0.01, "planning footprints")
    fp_plan, gap_pixels = plan(target, package, overlap_m=request.overlap_m, mask=request.mask)
    report.working_crs = fp_plan.crs.to_string()
    report.grid = _grid_text(target)
    report.footprints_total = fp_plan.n_candidates
    report.gap_pixels = gap_pixels
    fb.info(f"{gap_pixels} pixels to generate in {len(fp_plan)} of {fp_plan.n_candidates} "
            f"footprints of {package.footprint_m:g} m (overlap {fp_plan.overlap_m:g} m), "
            f"working CRS {report.working_crs}")
    rep.describe(report, target, conditions, date, gap_pixels=gap_pixels, has_time=has_time,
                 has_location=bool(package.keys_of_family("lat_lon")),
                 harmonise=request.harmonise)
    if target.mode == "gapfill" and target.ungenerated and gap_pixels and target.nodata is None:
        target = dataclasses.replace(target, nodata=choose_nodata(target))
        report.notes.append(f"the layer has no nodata value; outputs mark unfilled gap pixels "
                            f"with nodata {target.nodata:g}")
    return _Setup(package, target, conditions, date, has_time, fp_plan)


def _check_size(path: Path, width: int, height: int) -> None:
    """Refuse a layer above ``MAX_RASTER_PIXELS`` at once, with the fix."""
    pixels = width * height
    if pixels > MAX_RASTER_PIXELS:
        raise InputError(
            f"{path.name} is {width} x {height} px ({pixels:.3g} pixels); one run takes at most "
            f"{MAX_RASTER_PIXELS:.3g}: clip it to the area of interest (gdal_translate "
            "-projwin) or split it into tiles")


def _check_raster_size(path: Path) -> None:
    """``_check_size`` for a target that is a raster file (a product is checked once read)."""
    try:
        with rasterio.open(path) as ds:
            width, height = ds.width, ds.height
    except (RasterioError, OSError):
        return  # not a plain raster (a SAFE product, a STAC item) or unreadable: said later
    _check_size(path, width, height)


def _copy_observed(writers: FillWriters, target: TargetSetup, request: FillRequest,
                   fb: RunFeedback) -> None:
    fb.report(0.02, "copying the observed pixels")
    copy_observed(writers, target, mask=request.mask, cancel=fb.cancelled,
                  progress=lambda f: fb.report(0.02 + (PREPARED - 0.02) * f,
                                               "copying the observed pixels"))
    fb.check("while copying the observed pixels")


def _generate(request: FillRequest, setup: _Setup, writers: FillWriters, report: FillReport,
              fb: RunFeedback, *, engine: CopgenEngine | None = None,
              runner_factory: RunnerFactory | None = None) -> None:
    """Every footprint of the plan, on one engine (none when there is nothing to generate);
    the caller's engine is reused and left open."""
    if not len(setup.plan):
        report.device = "none (nothing to generate)"
        return
    own = engine is None
    if engine is None:
        engine = CopgenEngine(setup.package, RuntimeOptions(
            device=request.device, intra_op_threads=request.threads or None,
            precision=request.precision))
    try:
        runner = (runner_factory or FootprintRunner)(
            engine=engine, target=setup.target, conditions=setup.conditions, fp_plan=setup.plan,
            writers=writers, feedback=fb, mask=request.mask,
            date=setup.date.date if setup.date is not None and setup.has_time else None,
            n_samples=request.n_samples, steps=report.steps, seed=request.seed,
            batch_size=request.batch_size, statistic=request.spread_statistic,
            harmonise=request.harmonise)
        generating = time.monotonic()
        report.footprints_run = _run_footprints(runner, setup.plan, request, engine, fb)
        if request.self_check > 0:
            _self_check(request, runner, report, fb, time.monotonic() - generating)
        rep.after_run(report, device=runner.device, providers=engine.providers,
                      variant=engine.variant_line,
                      stats=runner.stats, generated_dates=runner.generated_dates,
                      filled_holes=runner.filled_holes, dropped=runner.dropped,
                      held_pixels=runner.held_pixels)
    finally:
        if own:
            engine.close()


def _run_footprints(runner: Any, fp_plan: FootprintPlan, request: FillRequest,
                    engine: CopgenEngine, fb: RunFeedback) -> int:
    """Every footprint of the plan, wavefront by wavefront: the footprints of one wavefront
    read nothing another one writes, so up to ``batch_rows`` of their samples share each
    denoiser call, with the files of the scan (``FootprintRunner.run_batch``); a runner
    without batches (scale/'s replay) runs them one by one in scan order. How many ran."""
    run_batch = getattr(runner, "run_batch", None)
    if run_batch is None:
        return sum(runner.run(i) for i in range(len(fp_plan)))
    rows = request.batch_rows or default_rows(engine.package, engine.denoiser().model.device)
    batches = wavefront_batches(fp_plan, rows // request.n_samples)
    fb.info(f"{len(fp_plan)} footprints in {len(batches)} batches of independent footprints "
            f"(at most {rows} samples per denoiser call"
            f"{', automatic' if not request.batch_rows else ''})")
    ran = done = 0
    for batch in batches:
        ran += sum(run_batch(batch, max_rows=rows, done=done))
        done += len(batch)
    return ran


def _self_check(request: FillRequest, runner: FootprintRunner, report: FillReport,
                fb: RunFeedback, run_seconds: float) -> None:
    """The self-check's separate generations, after the run's (which they do not touch)."""
    if not isinstance(runner, FootprintRunner):  # scale/'s graph runner: no check hooks
        report.notes.append("self-check skipped: footprints run as a task graph (--split-scene)")
        return
    if runner.target.categorical:
        report.notes.append("self-check skipped: it scores continuous values, the target holds "
                            "classes")
        return
    fb.report(GENERATED, "self-check")
    check = SelfCheck(runner, fraction=request.self_check, seed=request.seed)
    check.run()
    if not check.footprints:
        report.notes.append("self-check: no footprint has enough observed pixels to hide some")
        return
    report.self_check = check.result(run_seconds=run_seconds)


def _grid_text(target: TargetSetup) -> str:
    g = target.grid
    xres, yres = g.res
    return (f"{g.width} x {g.height} px of {xres:.6g} x {yres:.6g} {g.crs.linear_units or 'units'}"
            f", {g.crs.to_string()}, origin ({g.transform.c:.6f}, {g.transform.f:.6f})")
