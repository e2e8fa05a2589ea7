"""Loading rules: the plugin loads without heavy imports, and without onnxruntime at all."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from qgis_env import QGIS_PYTHON_PLUGINS, make_plugins_dir

SCRIPT = textwrap.dedent(
    """
    import importlib, json, os, sys
    block = set(sys.argv[2].split(",")) - {""}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in block:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by test)")
            return None

    sys.meta_path.insert(0, Blocker())
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, sys.argv[1])
    plugin = importlib.import_module("copgen").classFactory(None)
    plugin.initProcessing()
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("copgen")
    base = importlib.import_module("copgen.copgen_plugin.processing.base")

    class NeedsRuntime(base.CopgenAlgorithm):
        def name(self): return "needs_runtime"
        def displayName(self): return "needs runtime"
        def createInstance(self): return NeedsRuntime()
        def initAlgorithm(self, config=None): pass
        def processAlgorithm(self, p, c, f): return {}

    out = {
        "provider": provider is not None,
        "ids": sorted(a.id() for a in provider.algorithms()),
        "heavy": sorted(m for m in ("onnxruntime", "rasterio", "torch") if m in sys.modules),
        "diagnostics_can_execute": list(registry.algorithmById("copgen:diagnostics").canExecute()),
        "runtime_can_execute": list(NeedsRuntime().canExecute()),
    }
    print("RESULT" + json.dumps(out))
    """
)


def _load(tmp_path: Path, block: str) -> dict:
    plugins = make_plugins_dir(tmp_path)
    env = {"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(QGIS_PYTHON_PLUGINS),
           "XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(plugins), block], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_plugin_load_imports_nothing_heavy(tmp_path: Path) -> None:
    out = _load(tmp_path, "")
    assert out["provider"] and "copgen:diagnostics" in out["ids"]
    assert out["heavy"] == []
    assert out["runtime_can_execute"] == [True, ""]


def test_missing_onnxruntime_gives_actionable_reason(tmp_path: Path) -> None:
    out = _load(tmp_path, "onnxruntime,rasterio")
    assert out["provider"] and "copgen:diagnostics" in out["ids"]
    assert out["diagnostics_can_execute"][0] is True
    ok, reason = out["runtime_can_execute"]
    assert ok is False
    assert "onnxruntime, rasterio" in reason
    for door in ("Plugins > COP-GEN > Install dependencies...", "copgen:install_dependencies",
                 "python -m copgen_plugin install-deps"):
        assert door in reason
