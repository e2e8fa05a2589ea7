"""copgen:gapfill and copgen:generate in a real QgsApplication: processing.run, results loaded
as a styled layer group, a .model3 chain, and qgis_process --json."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import processing
import pytest
import rasterio
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterRasterLayer,
    QgsProject,
)
from qgis_env import PLUGIN_NAME, make_plugins_dir, subprocess_env


def _params(scene: dict[str, Path], package: Path, out: Path, **extra: Any) -> dict[str, Any]:
    return {"INPUT": str(scene["s2"]), "DEM": str(scene["dem"]), "MODEL": str(package),
            "N_SAMPLES": 2, "STEPS": 2, "SEED": 5, "DEVICE": 2, "DATE": "2021-06-01",
            "OUTPUT": str(out / "filled.tif"), "SPREAD": str(out / "spread.tif"),
            "SAMPLES": str(out / "samples"), **extra}


def _check_outputs(scene: dict[str, Path], result: dict[str, Any]) -> None:
    with rasterio.open(scene["s2"]) as src:
        observed = src.read()
        gap = (observed == 0).any(axis=0)
        crs, transform = src.crs, src.transform
    paths = [result["OUTPUT"], *sorted(Path(result["SAMPLES"]).glob("sample_*.tif"))]
    assert len(paths) == 3
    filled = []
    for path in paths:
        with rasterio.open(path) as ds:
            assert ds.crs == crs and ds.transform == transform and ds.count == 12
            values = ds.read()
        assert np.array_equal(values[:, ~gap], observed[:, ~gap])  # bit for bit
        assert (values[:, gap] != 0).all()  # nothing left as nodata in the gap
        filled.append(values)
    assert not np.array_equal(filled[1][:, gap], filled[2][:, gap])  # two different samples
    with rasterio.open(result["SPREAD"]) as ds:
        spread, nodata = ds.read(), ds.nodata
        assert ds.crs == crs and ds.transform == transform
    # the spread is the std of the sample files as written (integers here): equal samples can
    # give 0 at a pixel, so: exactly their std, and positive almost everywhere in the gap
    stack = np.stack(filled[1:]).astype(np.float64)
    np.testing.assert_allclose(spread[:, gap], stack.std(axis=0, ddof=1)[:, gap], rtol=1e-5)
    assert (spread[:, gap] >= 0).all() and (spread[:, gap] > 0).mean() > 0.99
    outside = spread[:, ~gap]
    assert (np.isnan(outside).all() if nodata is None or np.isnan(nodata)
            else (outside == nodata).all())


def test_gapfill_processing_run(copgen_plugin: Any, tiny_package: Path,
                                s2_scene: dict[str, Path], tmp_path: Path) -> None:
    feedback = QgsProcessingFeedback()
    progress: list[float] = []
    feedback.progressChanged.connect(progress.append)
    result = processing.run("copgen:gapfill",
                            _params(s2_scene, tiny_package, tmp_path, PRECISION=2),
                            feedback=feedback)
    _check_outputs(s2_scene, result)
    assert result["DEVICE_USED"] == "cpu" and result["FOOTPRINTS"] >= 1
    # PRECISION 2 = fp16 asked for; this tiny package has only its fp32 variant, and says so
    # (and, where OpenVINO is installed, that it ran the denoiser and in which precision)
    assert re.search(r"model variant: fp32 \(torchscript exporter, opset 17\) on cpu"
                     r"(, run by OpenVINO (bf16|fp32))?: fp16 asked for, but this package has "
                     r"only fp32: using fp32", feedback.textLog())
    assert len(result["OUTPUT_LAYERS"]) == 4
    assert progress == sorted(progress) and progress[-1] == pytest.approx(100.0)
    log = feedback.textLog()
    for fact in ("copgen-tiny-random", "device actually used: cpu", "seed 5", "footprints",
                 "edges: samples blended into the held pixels around them"):
        assert fact in log, fact
    with rasterio.open(result["OUTPUT"]) as ds:
        assert ds.tags()["COPGEN_HARMONISED"] == "yes"  # HARMONISE defaults to on


def test_results_load_in_a_styled_group(copgen_plugin: Any, tiny_package: Path,
                                        s2_scene: dict[str, Path], tmp_path: Path) -> None:
    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    try:
        processing.runAndLoadResults("copgen:gapfill", _params(s2_scene, tiny_package, tmp_path),
                                     context=context)
        groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("COP-GEN")]
        assert len(groups) == 1
        layers = {n.layer().name(): n.layer() for n in groups[0].findLayers()}
        assert set(layers) == {"filled", "spread", "sample 1", "sample 2"}
        spread = layers["spread"].renderer()
        assert spread.type() == "singlebandpseudocolor"
        ramp = spread.shader().rasterShaderFunction().colorRampItemList()
        stats = layers["spread"].dataProvider().bandStatistics(1)
        assert len(ramp) == 5  # the five colours of resources/styles/spread.qml
        assert ramp[0].value == pytest.approx(stats.minimumValue)
        assert ramp[-1].value == pytest.approx(stats.maximumValue)
        for name in ("filled", "sample 1"):
            renderer = layers[name].renderer()
            assert renderer.type() == "multibandcolor"
            assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (4, 3, 2)
    finally:
        project.removeAllMapLayers()
        project.layerTreeRoot().removeAllChildren()


def test_bad_inputs_raise_processing_exceptions(copgen_plugin: Any, tiny_package: Path,
                                                s2_scene: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(QgsProcessingException, match="DATE"):
        processing.run("copgen:gapfill", _params(s2_scene, tiny_package, tmp_path,
                                                 DATE="June 2021"))
    with pytest.raises(QgsProcessingException, match=r"(?i)model"):
        processing.run("copgen:gapfill", _params(s2_scene, tiny_package, tmp_path,
                                                 MODEL=str(tmp_path / "no-such-model")))
    assert not (tmp_path / "filled.tif").exists()
    assert not list(tmp_path.glob("*.partial*"))


def test_model_builder_chain(copgen_plugin: Any, tiny_package: Path, s2_scene: dict[str, Path],
                             tmp_path: Path) -> None:
    """A .model3 chaining copgen:gapfill into native:rescaleraster, saved, reloaded and run."""
    model = QgsProcessingModelAlgorithm("fill then rescale", "tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("target", "target"),
                            QgsProcessingModelParameter("target"))
    fill = QgsProcessingModelChildAlgorithm("copgen:gapfill")
    fill.setChildId("fill")
    fill.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter(
        "target")])
    static = {"MODEL": str(tiny_package), "N_SAMPLES": 2, "STEPS": 2, "SEED": 1, "DEVICE": 2,
              "DEM": str(s2_scene["dem"]), "DATE": "2021-06-01"}
    for name, value in static.items():
        fill.addParameterSources(name, [QgsProcessingModelChildParameterSource.fromStaticValue(
            value)])
    model.addChildAlgorithm(fill)
    rescale = QgsProcessingModelChildAlgorithm("native:rescaleraster")
    rescale.setChildId("rescale")
    rescale.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromChildOutput(
        "fill", "OUTPUT")])
    # band 1: QGIS 3.22's rescaleraster writes to the input's band number in its 1-band output
    for name, value in {"BAND": 1, "MINIMUM": 0.0, "MAXIMUM": 1.0}.items():
        rescale.addParameterSources(name, [
            QgsProcessingModelChildParameterSource.fromStaticValue(value)])
    output = QgsProcessingModelOutput("red", "B01 rescaled")
    output.setChildOutputName("OUTPUT")
    rescale.setModelOutputs({"red": output})
    model.addChildAlgorithm(rescale)
    path = tmp_path / "fill_rescale.model3"
    assert model.toFile(str(path))
    loaded = QgsProcessingModelAlgorithm()
    assert loaded.fromFile(str(path))
    loaded.initAlgorithm({})
    result = processing.run(loaded, {"target": str(s2_scene["s2"]),
                                     "rescale:red": str(tmp_path / "red.tif")})
    with rasterio.open(result["rescale:red"]) as ds, rasterio.open(s2_scene["s2"]) as src:
        red = ds.read(1)  # rescaling keeps the source nodata (0) as its own: read raw values
        assert ds.transform == src.transform and ds.crs == src.crs
        gap = (src.read() == 0).any(axis=0)
    assert np.isfinite(red).all()
    assert red.min() == pytest.approx(0.0) and red.max() == pytest.approx(1.0)
    assert (red[gap] > 0).mean() > 0.99  # the gap was filled before the chain went on


def test_generate_processing_run(copgen_plugin: Any, tiny_package: Path,
                                 s2_scene: dict[str, Path], tmp_path: Path) -> None:
    """copgen:generate: S2 L2A from the DEM alone, on the reference layer's grid."""
    params = {**_params(s2_scene, tiny_package, tmp_path), "HARMONISE": False}
    result = processing.run("copgen:generate", params)
    with rasterio.open(result["OUTPUT"]) as ds, rasterio.open(s2_scene["s2"]) as ref:
        assert (ds.crs, ds.transform, ds.width, ds.height) == (ref.crs, ref.transform,
                                                                ref.width, ref.height)
        assert ds.tags()["COPGEN_HARMONISED"] == "no"
        values = ds.read()
        assert ds.count == 12 and np.isfinite(values).all()
    with rasterio.open(result["SPREAD"]) as ds:
        assert (ds.read() > 0).all()  # everything was generated


def test_qgis_process_gapfill_json(tiny_package: Path, s2_scene: dict[str, Path],
                                   tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    exe = "/usr/bin/qgis_process.bin"
    subprocess.run([exe, "plugins", "enable", PLUGIN_NAME], env=env, check=True,
                   capture_output=True, timeout=180)
    args = [f"{k}={v}" for k, v in _params(s2_scene, tiny_package, tmp_path,
                                           SELF_CHECK=0.03).items()]
    proc = subprocess.run([exe, "run", "copgen:gapfill", "--json", "--", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    result = data["results"]
    _check_outputs(s2_scene, result)
    assert result["DEVICE_USED"] == "cpu"
    # the self-check (issue 18): its files beside the outputs, its table in the log
    report = json.loads((tmp_path / "filled_selfcheck.json").read_text())
    assert len(report["footprints"]) == 1 and report["hidden_pixels"] > 0
    assert (tmp_path / "filled_selfcheck.csv").is_file()
    assert (tmp_path / "filled_selfcheck.png").read_bytes()[:4] == b"\x89PNG"
    log = json.dumps(data.get("log", "")) + proc.stdout + proc.stderr
    assert "self-check: scope" in log and "self-check: all " in log


def test_cancel_leaves_no_files(copgen_plugin: Any, tiny_package: Path,
                                s2_scene: dict[str, Path], tmp_path: Path) -> None:
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda value: value > 20 and feedback.cancel())
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run("copgen:gapfill", _params(s2_scene, tiny_package, out, STEPS=6),
                       feedback=feedback)
    assert feedback.isCanceled()
    leftovers = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert leftovers == []
