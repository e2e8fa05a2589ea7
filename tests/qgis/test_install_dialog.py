"""The Install dependencies dialog in a real QgsApplication (offscreen widgets): pip runs in a
QgsTask, its lines reach the log view, the GUI thread keeps turning, the failure is plain."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from qgis_env import QGIS_PYTHON_PLUGINS, make_plugins_dir

from tests.install.pip_helpers import bare_python, clean_pip_environ

__all__ = ["bare_python"]

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, time
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QTimer
    app = QgsApplication([], True)
    app.initQgis()
    sys.path.insert(0, sys.argv[1])
    dialog_mod = importlib.import_module("copgen.copgen_plugin.gui.install_dialog")
    dialog = dialog_mod.InstallDialog()
    dialog.show()
    dialog.index_url.setText(sys.argv[2])
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(dialog.install_button.isEnabled()))
    timer.start(20)
    dialog.install_button.click()
    started = time.monotonic()
    while dialog.last_result is None and time.monotonic() - started < 120:
        app.processEvents()
        time.sleep(0.01)
    print("RESULT" + json.dumps({
        "result": dialog.last_result, "log": dialog.log.toPlainText().splitlines(),
        "ticks_while_running": ticks.count(False), "state": dialog.state.text(),
        "install_enabled": dialog.install_button.isEnabled(),
        "cancel_enabled": dialog.cancel_button.isEnabled()}))
    """
)


def test_dialog_runs_pip_in_a_task_and_shows_the_plain_failure(tmp_path: Path,
                                                               bare_python: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/simple"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = clean_pip_environ()
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(QGIS_PYTHON_PLUGINS),
               XDG_RUNTIME_DIR=str(runtime), COPGEN_DEPS_DIR=str(tmp_path / "deps"),
               PATH="/usr/bin:/bin", COPGEN_PYTHON=str(bare_python))  # QGIS's own Python
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(make_plugins_dir(tmp_path)), url],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    out = json.loads(line[len("RESULT"):])
    ok, message = out["result"]
    assert ok is False
    assert message.startswith("Installing the dependencies failed: pip could not reach the "
                              f"package index ({url}")
    log = out["log"]
    assert log[0] == "looking for the Python interpreter of this QGIS"
    assert any(ln.startswith("$ ") and "-m pip install --dry-run" in ln for ln in log)
    assert any("Connection refused" in ln for ln in log)  # pip's own lines, live
    assert log[-1] == message
    assert out["ticks_while_running"] > 5  # the GUI thread ran while pip did
    assert out["install_enabled"] and not out["cancel_enabled"]
    assert "Dependency folder: " in out["state"] and "(absent)" in out["state"]
    assert not (tmp_path / "deps").exists() or not any((tmp_path / "deps").iterdir())
    assert os.environ.get("COPGEN_DEPS_DIR") != str(tmp_path / "deps")
