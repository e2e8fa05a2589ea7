"""copgen:gapfill_batch: many scenes, one model -> one folder per scene + a batch report.

Parameters -> a shared FillRequest + the scene list -> scale.run_batch. Inside QGIS only the
in-process schedulers (or an existing cluster's address) are allowed: ``sys.executable`` is
the QGIS binary, so a scheduler that spawns Python processes would start QGIS again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..errors import CopgenError, InputError
from ..fill.options import DEVICES, LAYER_LABELS, LAYER_MODALITIES, SPREAD_STATISTICS, parse_date
from ..fill.request import FillRequest
from ..install import deps
from .base import CopgenAlgorithm
from .fill_parameters import DEFAULT_MODEL


class GapfillBatchAlgorithm(CopgenAlgorithm):
    """Fills the gaps of every scene of a list with one model, scene by scene (or several at
    a time), skipping scenes already complete."""

    required_modules = (*deps.RUNTIME_MODULES, "dask")

    def name(self) -> str:
        return "gapfill_batch"

    def displayName(self) -> str:
        return "Fill gaps of many scenes (batch)"

    def group(self) -> str:
        return "Generative"

    def groupId(self) -> str:
        return "generative"

    def createInstance(self) -> GapfillBatchAlgorithm:
        return GapfillBatchAlgorithm()

    def shortHelpString(self) -> str:
        return (
            "Fills the gaps of many scenes with one model, like 'Fill gaps' for each: a folder "
            "with one scene per subfolder (input.tif or s2l2a.tif, dem.tif, s1.tif, lulc.tif, "
            "mask.tif, an optional scene.json with the date), a glob, or a JSON/CSV table "
            "(name, input, dem, s1, lulc, mask, date, ...). Each scene's filled.tif, "
            "spread.tif and samples/ go to OUTPUT_FOLDER/<name>/, with a batch report "
            "(batch_report.json: status, device, worker, duration, error per scene). "
            "Running it again skips the finished scenes; a scene with bad input fails alone. "
            "Scheduler: 'threads' (in QGIS, default), 'sync', or the address of a running "
            "Dask cluster (tcp://host:port)."
        )

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        def add(param: QgsProcessingParameterDefinition, text: str,
                advanced: bool = False) -> None:
            param.setHelp(text)
            if advanced:
                param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)

        add(QgsProcessingParameterString(
            "SCENES", "Scenes (a folder of scene folders, a glob, or a .json/.csv table)",
            defaultValue=""),
            "A folder holding one subfolder per scene; a glob such as /data/*/s2.tif (one "
            "scene per match, its siblings as conditions); or a table of scenes with the "
            "columns name, input, dem, s1, lulc, s2l1c, s2l2a, cloud_mask, mask, date, bands, "
            "nodata (relative paths are relative to the table).")
        add(QgsProcessingParameterEnum("INPUT_MODALITY", "Modality of the scenes' layers",
                                       options=list(LAYER_LABELS), defaultValue=0),
            "Which Copernicus product every scene's input layer holds.")
        add(QgsProcessingParameterString("MODEL", "Model package (folder or model id)",
                                         defaultValue=DEFAULT_MODEL),
            "A folder holding manifest.json, or the id of an installed package.")
        add(QgsProcessingParameterNumber("N_SAMPLES", "Number of samples", defaultValue=4,
                                         minValue=1, maxValue=64),
            "Plausible versions per scene; the spread is computed over them.")
        add(QgsProcessingParameterNumber("STEPS", "Solver steps", defaultValue=50, minValue=1,
                                         maxValue=1000),
            "DPM-Solver steps = network evaluations per sample (COP-GEN default 50).")
        add(QgsProcessingParameterNumber("SEED", "Random seed", defaultValue=1234, minValue=0,
                                         maxValue=2**31 - 1),
            "The same seed gives the same samples on the same device, for every scene.")
        add(QgsProcessingParameterEnum("DEVICE", "Device", options=list(DEVICES),
                                       defaultValue=0),
            "auto: CUDA when ONNX Runtime has it, else CPU; the report says what was used.")
        add(QgsProcessingParameterString(
            "DATE", "Acquisition date for scenes without one (YYYY-MM-DD)", optional=True),
            "Empty: each scene's date from the scene list, else its layer's metadata, else "
            "generated by the model.")
        add(QgsProcessingParameterString(
            "SCHEDULER", "Scheduler (threads[:N], sync, or tcp://host:port)",
            defaultValue="threads"),
            "threads: N scenes at a time inside QGIS (default 2); sync: one after the other; "
            "tcp://host:port: submit to a running Dask cluster (its workers need the plugin "
            "and the data paths). A local cluster of processes cannot be started from QGIS.")
        add(QgsProcessingParameterBoolean(
            "SPLIT_SCENE", "Also run each scene's footprints in parallel", defaultValue=False),
            "Footprints whose windows do not overlap run at the same time; the outputs are "
            "the same as footprint by footprint.", advanced=True)
        add(QgsProcessingParameterNumber(
            "OVERLAP", "Footprint overlap (m)", type=QgsProcessingParameterNumber.Double,
            defaultValue=320.0, minValue=0.0, maxValue=960.0),
            "Overlap of neighbouring 1920 m footprints.", advanced=True)
        add(QgsProcessingParameterNumber(
            "BATCH_SIZE", "Samples per denoiser call", defaultValue=4, minValue=1, maxValue=64),
            "Bounds memory; results do not depend on it.", advanced=True)
        add(QgsProcessingParameterNumber(
            "THREADS", "CPU threads per scene (0 = automatic)", defaultValue=0, minValue=0,
            maxValue=256), "ONNX Runtime intra-op threads of each scene.", advanced=True)
        add(QgsProcessingParameterEnum(
            "SPREAD_STATISTIC", "Spread statistic",
            options=["standard deviation", "range (max - min)", "interquartile range"],
            defaultValue=0), "Per-pixel statistic over the samples.", advanced=True)
        add(QgsProcessingParameterBoolean(
            "HARMONISE", "Blend generated pixels into their surroundings", defaultValue=True),
            "Poisson blending at gap and footprint edges.", advanced=True)
        add(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"),
            "Receives <name>/filled.tif, <name>/spread.tif, <name>/samples/ per scene and "
            "batch_report.json.")
        self.addOutput(QgsProcessingOutputFile("REPORT", "Batch report (JSON)"))
        self.addOutput(QgsProcessingOutputNumber("SCENES_DONE", "Scenes filled or complete"))
        self.addOutput(QgsProcessingOutputNumber("SCENES_FAILED", "Scenes not filled"))

    def _base_request(self, parameters: dict[str, Any], context: QgsProcessingContext
                      ) -> FillRequest:
        from ..scale.scenes import batch_request

        try:
            date = parse_date(self.parameterAsString(parameters, "DATE", context))
        except InputError as exc:
            raise QgsProcessingException(f"DATE: {exc}") from exc
        family = LAYER_MODALITIES[self.parameterAsEnum(parameters, "INPUT_MODALITY", context)]
        return batch_request(
            self.parameterAsString(parameters, "MODEL", context).strip() or DEFAULT_MODEL,
            modality=family, date=date,
            n_samples=self.parameterAsInt(parameters, "N_SAMPLES", context),
            steps=self.parameterAsInt(parameters, "STEPS", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
            overlap_m=self.parameterAsDouble(parameters, "OVERLAP", context),
            batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
            threads=self.parameterAsInt(parameters, "THREADS", context),
            spread_statistic=SPREAD_STATISTICS[
                self.parameterAsEnum(parameters, "SPREAD_STATISTIC", context)],
            harmonise=self.parameterAsBoolean(parameters, "HARMONISE", context))

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        from ..scale import read_scenes, run_batch  # dask, rasterio: only when running

        base = self._base_request(parameters, context)
        out = Path(self.parameterAsString(parameters, "OUTPUT_FOLDER", context))
        try:
            scenes = read_scenes(self.parameterAsString(parameters, "SCENES", context),
                                 modality=base.target.modality)
            feedback.pushInfo(f"{len(scenes)} scene(s): {', '.join(s.name for s in scenes)}")
            report = run_batch(
                scenes, base, out,
                scheduler=self.parameterAsString(parameters, "SCHEDULER", context),
                split_scene=self.parameterAsBoolean(parameters, "SPLIT_SCENE", context),
                in_process_only=True, cancel=feedback.isCanceled, log=feedback.pushInfo,
                progress=lambda f, _m: feedback.setProgress(100.0 * f))
        except CopgenError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for scene in report.scenes:
            if scene.status not in ("done", "skipped"):
                feedback.reportError(f"scene {scene.name}: {scene.status}: {scene.error}",
                                     fatalError=False)
        feedback.pushInfo(report.summary()[-1])
        done = report.count("done") + report.count("skipped")
        return {"OUTPUT_FOLDER": str(out), "REPORT": str(out / "batch_report.json"),
                "SCENES_DONE": done, "SCENES_FAILED": len(report.scenes) - done}
