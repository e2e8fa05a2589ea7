"""What the screenshot scripts run inside desktop QGIS share (scripts/desktop_qgis.sh puts this
folder on PYTHONPATH): whole-screen shots into $COPGEN_SHOTS, the errors list, and the last
step that writes the errors and quits QGIS."""

import os
import subprocess
from pathlib import Path

from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer

SHOTS = Path(os.environ["COPGEN_SHOTS"])
errors: list[str] = []


def shot(name: str) -> None:
    subprocess.run(["import", "-window", "root", str(SHOTS / name)], check=False, timeout=60)


def finish(last_shot: str) -> None:
    """Take the last shot, write the errors (desktop_qgis.sh fails on any), quit QGIS."""
    shot(last_shot)
    (SHOTS / "errors.txt").write_text("\n".join(errors), encoding="utf-8")
    QgsProject.instance().removeAllMapLayers()
    QTimer.singleShot(300, QgsApplication.instance().quit)
