"""Desktop QGIS under Xvfb: the plugin is enabled, the toolbox lists copgen, the dialog opens.

The screenshot lands in build/gui_smoke.png for a person to look at.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from qgis_env import PLUGIN_NAME, REPO_ROOT, make_plugins_dir, subprocess_env

pytestmark = pytest.mark.gui


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run missing: run make setup")
def test_desktop_qgis_shows_copgen(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, make_plugins_dir(tmp_path))
    env.pop("QT_QPA_PLATFORM", None)  # desktop QGIS aborts with offscreen (QGIS_ENV.md #10)
    profiles = tmp_path / "qgis-root"  # --profiles-path; profiles live in <it>/profiles/<name>
    ini = profiles / "profiles" / "test" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[PythonPlugins]\n{PLUGIN_NAME}=true\n\n[qgis]\ncheckVersion=false\n",
                   encoding="utf-8")
    out = tmp_path / "status.json"
    shot = REPO_ROOT / "build" / "gui_smoke.png"
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    env.update(COPGEN_GUI_OUT=str(out), COPGEN_GUI_SHOT=str(shot))
    script = Path(__file__).with_name("gui_smoke_script.py")
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", "/usr/bin/qgis.bin", "--nologo",
           "--noversioncheck", "--profiles-path", str(profiles), "--profile", "test",
           "--code", str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert out.is_file(), f"rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    status = json.loads(out.read_text())
    assert status["errors"] == [], status
    assert status["plugin_active"] and status["provider"]
    assert status["toolbox_provider_row"] and status["toolbox_provider_label"] == "COP-GEN"
    assert "Tools" in status["toolbox_children"]
    assert status["menu_actions"] == ["Install dependencies..."]  # Plugins > COP-GEN
    assert status["install_dialog_visible"]
    assert "Diagnostics" in status["dialog_title"] and status["dialog_visible"]
    assert status["screenshot_rc"] == 0 and shot.stat().st_size > 10_000
