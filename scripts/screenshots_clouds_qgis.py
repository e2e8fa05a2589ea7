"""Run inside desktop QGIS (--code) by scripts/screenshots_clouds.sh: the gap-fill dialog set up
for a SAFE zip with MASK_SOURCE=SCL, then the product's 10 m bands (clouds) and the filled
layer. Screenshots go to $COPGEN_SHOTS; errors to $COPGEN_SHOTS/errors.txt."""

import os
import traceback
from pathlib import Path

from desktop_shots import errors, finish, shot
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

OUT = Path(os.environ["COPGEN_CLOUDS"])
ZIP = os.environ["COPGEN_ZIP"]
state = {}


def step_dialog():
    try:
        iface.mainWindow().setGeometry(0, 0, 1400, 900)
        plugins["processing"].toolbox.show()
        import processing

        dialog = processing.createAlgorithmDialog("copgen:gapfill", {
            "INPUT": ZIP, "MASK_SOURCE": 1, "MASK_BUFFER": 60, "MODEL": "copgen-demo",
            "N_SAMPLES": 4})
        dialog.setGeometry(300, 60, 780, 800)
        dialog.show()
        state["dialog"] = dialog
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(2500, step_input)


def _rgb(layer, bands):
    """True colour with one fixed stretch (200-2200 DN), so both pictures compare."""
    from qgis.core import QgsContrastEnhancement, QgsMultiBandColorRenderer

    provider = layer.dataProvider()
    renderer = QgsMultiBandColorRenderer(provider, *bands)
    setters = (renderer.setRedContrastEnhancement, renderer.setGreenContrastEnhancement,
               renderer.setBlueContrastEnhancement)
    for band, setter in zip(bands, setters, strict=True):
        e = QgsContrastEnhancement(provider.dataType(band))
        e.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
        e.setMinimumValue(200)
        e.setMaximumValue(2200)
        setter(e)
    layer.setRenderer(renderer)


def step_input():
    try:
        shot("clouds_dialog.png")
        state["dialog"].close()
        project = QgsProject.instance()
        filled = QgsRasterLayer(str(OUT / "filled.tif"), "filled (SCL clouds + 60 m buffer)")
        crs = filled.crs().authid().replace(":", "_")
        sub = f"SENTINEL2_L2A:/vsizip/{ZIP}/{Path(ZIP).stem}.SAFE/MTD_MSIL2A.xml:10m:{crs}"
        product = QgsRasterLayer(sub, "L2A product, 10 m bands")
        for layer in (filled, product):
            if not layer.isValid():
                raise RuntimeError(f"cannot load {layer.source()}")
        _rgb(product, (1, 2, 3))  # the driver's 10 m subdataset: B4, B3, B2, B8
        _rgb(filled, (4, 3, 2))  # the filled product stack: B01..B12
        project.addMapLayer(filled)
        project.addMapLayer(product)
        canvas = iface.mapCanvas()
        canvas.setDestinationCrs(filled.crs())
        canvas.setExtent(filled.extent())
        canvas.refresh()
        state["layers"] = (product, filled)
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(3000, step_filled)


def step_filled():
    try:
        shot("clouds_input.png")
        product, _ = state["layers"]
        root = QgsProject.instance().layerTreeRoot()
        root.findLayer(product.id()).setItemVisibilityChecked(False)
        iface.mapCanvas().refresh()
    except Exception:
        errors.append(traceback.format_exc())
    QTimer.singleShot(3000, step_quit)


def step_quit():
    finish("clouds_filled.png")


QTimer.singleShot(2000, step_dialog)
