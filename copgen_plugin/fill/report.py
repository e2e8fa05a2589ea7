"""The run report: its counters, notes, tags and summary lines (one home for both doors).

``run_fill`` fills a :class:`FillReport` in three moments: what was asked and decided before
generating (:func:`describe`), what the footprints amounted to (:func:`after_run`), and where
the outputs are (:func:`finish`). The Processing algorithms and the CLI print the same
:func:`summary_lines`; the GeoTIFF tags come from :func:`tags`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .options import EDGES

if TYPE_CHECKING:  # the run's setup values need numpy/rasterio; the report itself does not
    from ..geo import DateChoice
    from .inputs import ConditionSetup, TargetSetup
    from .request import FillRequest


@dataclass
class FillReport:
    """What ran, for `pushInfo`, the CLI and the tests.

    Added by the orchestrator: ``mode``; ``date_source`` (parameter / the tag it came from /
    generated); ``s1_scale`` (how S1 layers were read and why); ``ungenerated_bands`` (target
    bands the model has no group for: copied through, gaps left as nodata); ``pixels_written``
    (gap pixels generated; equals ``gap_pixels`` unless a note says otherwise); ``harmonised``
    (samples blended into their surroundings: asked for, and the target is not classes).
    """

    model_id: str = ""
    model_version: str = ""
    demo_model: bool = False
    device: str = ""
    #: the package's graph variant that ran, and why (engine.variants)
    variant: str = ""
    providers: dict[str, list[str]] = field(default_factory=dict)
    working_crs: str = ""
    grid: str = ""
    footprints_total: int = 0
    footprints_run: int = 0
    gap_pixels: int = 0
    seed: int = 0
    steps: int = 0
    n_samples: int = 0
    date: str = ""
    conditions: list[str] = field(default_factory=list)
    generated_modalities: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    sample_paths: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mode: str = ""
    date_source: str = ""
    s1_scale: list[str] = field(default_factory=list)
    ungenerated_bands: list[str] = field(default_factory=list)
    pixels_written: int = 0
    harmonised: bool = False
    #: share of the target's pixels masked, by cause (nodata, each SCL class, probability,
    #: detector classes, pixels added by the buffer) and ``total`` (the union)
    masked_fraction: dict[str, float] = field(default_factory=dict)
    gap_sources: list[str] = field(default_factory=list)
    product: str = ""
    self_check: dict[str, Any] = field(default_factory=dict)


@dataclass
class WriteStats:
    """What the writes of a run amounted to, counted by the footprint loop."""

    pixels: int = 0  # gap pixels generated
    nodata_class: int = 0  # filled pixels where the model chose its own "no data" class


def start(request: FillRequest, *, model_id: str, model_version: str, demo: bool,
          steps: int) -> FillReport:
    """The report of a run about to start."""
    return FillReport(model_id=model_id, model_version=model_version, demo_model=demo,
                      seed=request.seed, steps=steps, n_samples=request.n_samples,
                      mode=request.mode)


def describe(report: FillReport, target: TargetSetup, conditions: list[ConditionSetup],
             date: DateChoice | None, *, gap_pixels: int, has_time: bool, has_location: bool,
             harmonise: bool) -> None:
    """Conditions used, S1 scales, the date and every note known before generating."""
    report.s1_scale = [f"{c.layer.path.name}: {c.s1.scale} ({c.s1.source}: {c.s1.reason})"
                       for c in conditions if c.s1 is not None]
    if target.s1 is not None:
        report.s1_scale.insert(0, f"{target.path.name}: {target.s1.scale} "
                                  f"({target.s1.source}: {target.s1.reason})")
    if date is not None and not has_time:
        report.notes.append(f"model {report.model_id} has no date input; the date is ignored")
    report.date = date.date.isoformat() if date is not None else "generated"
    report.date_source = (date.source if date is not None else
                          "none given or found: generated jointly with each sample")
    report.generated_modalities = [g.key for g in target.groups]
    report.conditions = [c.description for c in conditions]
    if report.gap_pixels and target.mode == "gapfill":
        report.conditions.insert(0, f"{target.family} target: observed pixels held "
                                    f"({target.layout_source})")
    if has_location:
        report.conditions.append("lat/lon: centre of each footprint")
    else:
        report.notes.append(f"model {report.model_id} has no location input")
    dated = date is not None
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


def after_run(report: FillReport, *, device: str, providers: dict[str, list[str]],
              stats: WriteStats, generated_dates: list[str], filled_holes: dict[str, int],
              dropped: dict[str, int], held_pixels: int, variant: str = "") -> None:
    """What the footprint loop amounted to: device, pixels, and the notes it calls for."""
    report.device = device
    report.variant = variant
    report.providers = providers
    report.pixels_written = stats.pixels
    if generated_dates:
        report.date_source = ("none given or found: generated with each sample, per footprint "
                              f"(footprint 1: {', '.join(generated_dates)})")
    if stats.nodata_class:
        report.notes.append(
            f"the model chose its 'no data' class for {stats.nodata_class} gap pixel(s) "
            "of the filled raster; they equal the layer's nodata and read as gaps")
    if stats.pixels < report.gap_pixels:
        report.notes.append(f"{report.gap_pixels - stats.pixels} gap pixel(s) were not covered "
                            "by any footprint's generated area and keep their input values")
    for key, n in sorted(filled_holes.items()):
        report.notes.append(f"{key}: condition holes filled in {n} footprint(s) (at least 90 % "
                            "covered)")
    for key, n in sorted(dropped.items()):
        report.notes.append(f"{key}: condition covers under 90 % of {n} footprint(s); generated "
                            "there instead of conditioning")
    if held_pixels:
        report.notes.append(f"seams: {held_pixels} overlap pixels generated by earlier "
                            "footprints were held per sample")


def finish(report: FillReport, request: FillRequest, seconds: float) -> None:
    """Where the outputs are, and how long it took."""
    outs = request.outputs
    report.outputs = {"filled": str(outs.filled), "spread": str(outs.spread),
                      "samples_dir": str(outs.samples_dir)}
    report.sample_paths = [str(outs.sample(k)) for k in range(1, request.n_samples + 1)]
    report.seconds = seconds


def tags(report: FillReport, request: FillRequest) -> dict[str, str]:
    """The GeoTIFF tags every output carries (what made it)."""
    return {
        "COPGEN_MODEL_ID": report.model_id, "COPGEN_MODEL_VERSION": report.model_version,
        "COPGEN_MODE": request.mode, "COPGEN_SEED": str(request.seed),
        "COPGEN_STEPS": str(report.steps), "COPGEN_SAMPLES": str(request.n_samples),
        "COPGEN_DATE": f"{report.date} ({report.date_source})",
        "COPGEN_OVERLAP_M": f"{request.overlap_m:g}",
        "COPGEN_HARMONISED": "yes" if report.harmonised else "no",
    }


def summary_lines(r: FillReport) -> list[str]:
    """The report as the doors print it (Processing: pushInfo; CLI: stdout)."""
    demo = " (demo model trained on synthetic scenes, not COP-GEN's weights)" \
        if r.demo_model else ""
    lines = [
        f"model: {r.model_id} {r.model_version}{demo}",
        f"device actually used: {r.device} ({r.providers})",
        *([f"model variant: {r.variant}"] if r.variant else []),
        f"grid: {r.grid}; working CRS {r.working_crs}",
        f"footprints: {r.footprints_run} run of {r.footprints_total}; gap pixels "
        f"{r.gap_pixels}, generated {r.pixels_written}",
        f"seed {r.seed}, {r.steps} steps, {r.n_samples} samples; date {r.date} "
        f"({r.date_source})",
        f"edges: {EDGES[r.harmonised]}",
    ]
    lines += [f"condition: {c}" for c in r.conditions]
    lines += [f"S1 scale: {s}" for s in r.s1_scale]
    lines += [f"gap source: {s}" for s in r.gap_sources]
    lines += [f"masked: {k} {100 * v:.2f} %" for k, v in r.masked_fraction.items()]
    lines += [f"note: {n}" for n in r.notes]
    lines += [f"output: {k} {v}" for k, v in r.outputs.items()]
    lines += self_check_lines(r.self_check)
    lines.append(f"time: {r.seconds:.1f} s")
    return lines


def self_check_lines(sc: dict[str, Any]) -> list[str]:
    """The self-check's summary table: all bands, each band, each distance band."""
    if not sc:
        return []
    exp = sc["expected"]
    lines = [
        f"self-check: {sc['hidden_pixels']} observed pixels hidden in footprint(s) "
        f"{', '.join(map(str, sc['footprints']))} of {sc['footprints_total']}; "
        f"{sc['seconds']:.1f} s extra ({100 * sc['extra_cost']:.0f} % of the run's generation)",
        f"self-check: expected coverage for {sc['n_samples']} samples: 5-95 % "
        f"{100 * exp['coverage_5_95']:.0f} %, 25-75 % {100 * exp['coverage_25_75']:.0f} %; "
        "spread-skill 1 = calibrated",
        f"self-check: {'scope':<18} {'pixels':>7} {'MAE':>9} {'RMSE':>9} {'GDAL MAE':>9} "
        f"{'cov90':>6} {'cov50':>6} {'sp/sk':>6} {'CRPS':>9}",
    ]

    def row(name: str, v: dict[str, Any]) -> str:
        return (f"self-check: {name:<18} {v['pixels']:>7.0f} {v['mae']:>9.4g} {v['rmse']:>9.4g} "
                f"{v['gdal_mae']:>9.4g} {100 * v['coverage_5_95']:>5.0f}% "
                f"{100 * v['coverage_25_75']:>5.0f}% {v['spread_skill']:>6.2f} {v['crps']:>9.4g}")

    lines.append(row("all (real gaps)", sc))
    if "hidden_pixels_only" in sc:
        lines.append(row("all (hidden)", sc["hidden_pixels_only"]))
        mix = ", ".join(f"{d} {100 * w:.0f} %" for d, w in sc["distance_weights"].items())
        lines.append(f"self-check: 'real gaps' rows mix the distance rows as the real gap "
                     f"pixels of the checked footprints lie: {mix}")
    lines += [row(name, v) for name, v in sc["bands"].items()]
    lines += [row(d, v) for d, v in sc["distances"].items() if v["pixels"]]
    if "files" in sc:
        lines.append(f"self-check: files {', '.join(sc['files'].values())}")
    return lines
