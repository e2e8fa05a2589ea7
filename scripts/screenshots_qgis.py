"""Run inside desktop QGIS (--code) by scripts/screenshots.sh: the gap-fill dialog filled in for
the demo scene, then the demo results as a styled layer group on the map. Screenshots of the
whole screen go to $COPGEN_SHOTS; errors to $COPGEN_SHOTS/errors.txt."""

import os
import traceback
from pathlib import Path

from desktop_shots import errors, finish, shot
from qgis.core import QgsLayerTreeGroup, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

DEMO = Path(os.environ["COPGEN_DEMO_OUT"])
SCENE = Path(os.environ["COPGEN_SCENE"])
state = {}


def step_dialog():
    try:
        iface.mainWindow().setGeometry(0, 0, 1400, 900)
        toolbox = plugins["processing"].toolbox
        toolbox.show()
        import processing

        dialog = processing.createAlgorithmDialog("copgen:gapfill", {
            "INPUT": str(SCENE / "s2l2a.tif"), "DEM": str(SCENE / "dem.tif"),
            "S1RTC": str(SCENE / "s1rtc.tif"), "LULC": str(SCENE / "lulc.tif"),
            "DATE": "2021-07-15", "MODEL": "copgen-demo", "N_SAMPLES": 8})
        dialog.setGeometry(300, 60, 780, 800)
        dialog.show()
        state["dialog"] = dialog
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(2500, step_results)


def step_results():
    try:
        shot("gapfill_dialog.png")
        state["dialog"].close()
        from copgen.copgen_plugin.processing.layer_results import style_spread, style_true_colour

        project = QgsProject.instance()
        group = project.layerTreeRoot().insertGroup(0, "COP-GEN fill gaps: s2l2a")
        files = [("spread", DEMO / "spread.tif")]
        files += [(f"sample {k}", p) for k, p in
                  enumerate(sorted((DEMO / "samples").glob("sample_*.tif")), 1)]
        files += [("filled", DEMO / "filled.tif"), ("input with gap", SCENE / "s2l2a.tif")]
        for name, path in files:
            layer = QgsRasterLayer(str(path), name)
            style_spread(layer) if name == "spread" else style_true_colour(layer)
            project.addMapLayer(layer, False)
            node = group.addLayer(layer)
            node.setItemVisibilityChecked(name == "filled")
        canvas = iface.mapCanvas()
        canvas.setDestinationCrs(project.mapLayersByName("filled")[0].crs())
        canvas.setExtent(project.mapLayersByName("filled")[0].extent())
        canvas.refresh()
        assert isinstance(group, QgsLayerTreeGroup)
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(3000, step_spread)


def step_spread():
    try:
        shot("results_filled.png")
        project = QgsProject.instance()
        root = project.layerTreeRoot()
        for name, visible in (("filled", False), ("spread", True)):
            root.findLayer(project.mapLayersByName(name)[0].id()).setItemVisibilityChecked(visible)
        iface.mapCanvas().refresh()
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(3000, step_quit)


def step_quit():
    finish("results_spread.png")


QTimer.singleShot(2000, step_dialog)
