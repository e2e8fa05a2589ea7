"""Run inside desktop QGIS (--code): check the plugin, open the toolbox and the diagnostics
dialog, take a screenshot, write a JSON status, quit. Driven by test_gui_smoke.py."""

import json
import os
import subprocess
import traceback

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.utils import active_plugins, iface, plugins

OUT = os.environ["COPGEN_GUI_OUT"]
status = {"errors": []}
state = {}


def _toolbox_lists_copgen():
    toolbox = plugins["processing"].toolbox
    toolbox.show()
    toolbox.raise_()
    view = toolbox.algorithmTree
    model = view.model()
    root = view.rootIndex()
    labels = [model.data(model.index(r, 0, root)) for r in range(model.rowCount(root))]
    status["toolbox_top_level"] = labels
    rows = [r for r, label in enumerate(labels) if label == "COP-GEN"]
    status["toolbox_provider_row"] = bool(rows)
    if rows:
        index = model.index(rows[0], 0, root)
        status["toolbox_provider_label"] = model.data(index)
        children = [model.data(model.index(r, 0, index)) for r in range(model.rowCount(index))]
        status["toolbox_children"] = children
        view.expand(index)
        for r in range(model.rowCount(index)):
            view.expand(model.index(r, 0, index))
        view.scrollTo(index)


def step_open():
    try:
        status["plugin_active"] = "copgen" in active_plugins
        status["provider"] = QgsApplication.processingRegistry().providerById("copgen") is not None
        iface.mainWindow().setGeometry(0, 0, 1280, 900)
        menus = [a.menu() for a in iface.pluginMenu().actions()
                 if a.menu() is not None and a.text().replace("&", "") == "COP-GEN"]
        status["menu_actions"] = [a.text() for m in menus for a in m.actions()]
        for m in menus:
            for action in m.actions():
                if action.text() == "Install dependencies...":
                    action.trigger()
        install_dialog = getattr(plugins.get("copgen"), "dialog", None)
        status["install_dialog_visible"] = bool(install_dialog and install_dialog.isVisible())
        if install_dialog:
            install_dialog.close()
        _toolbox_lists_copgen()
        import processing

        dialog = processing.createAlgorithmDialog("copgen:diagnostics")
        status["dialog_title"] = dialog.windowTitle()
        dialog.setGeometry(300, 110, 670, 560)
        dialog.show()
        state["dialog"] = dialog
    except Exception:
        status["errors"].append(traceback.format_exc())
    QTimer.singleShot(2500, step_shot)


def step_shot():
    try:
        dialog = state.get("dialog")
        status["dialog_visible"] = bool(dialog and dialog.isVisible())
        shot = os.environ["COPGEN_GUI_SHOT"]
        proc = subprocess.run(["import", "-window", "root", shot], capture_output=True, timeout=60)
        status["screenshot_rc"] = proc.returncode
        if dialog:
            dialog.close()
    except Exception:
        status["errors"].append(traceback.format_exc())
    with open(OUT, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    QTimer.singleShot(200, QgsApplication.instance().quit)


QTimer.singleShot(1500, step_open)
