"""One real QgsApplication (offscreen) per test session, with the plugin loaded as QGIS does.

exitQgis() is never called: a QgsMapLayer still referenced at exit segfaults (QGIS_ENV.md #3).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qgis_env import PLUGIN_NAME, QGIS_PYTHON_PLUGINS, make_plugins_dir

# Processing's Python package (`import processing` in tests) lives with QGIS's own plugins.
if str(QGIS_PYTHON_PLUGINS) not in sys.path:
    sys.path.append(str(QGIS_PYTHON_PLUGINS))

_STATE: dict[str, Any] = {}


def _start_qgis() -> dict[str, Any]:
    if _STATE:
        return _STATE
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="copgen-qgis-"))
    runtime = tmp / "runtime"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    os.environ["COPGEN_MODELS_DIR"] = str(tmp / "models")
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False, str(tmp / "profile"))
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    plugins = make_plugins_dir(tmp)
    sys.path.insert(0, str(plugins))
    package = importlib.import_module(PLUGIN_NAME)
    plugin = package.classFactory(None)
    plugin.initProcessing()
    _STATE.update(app=app, plugin=plugin, tmp=tmp, package=package)
    return _STATE


@pytest.fixture(scope="session")
def qgis_app() -> Iterator[Any]:
    """The running QgsApplication with Processing and the copgen provider registered."""
    yield _start_qgis()["app"]


@pytest.fixture(scope="session")
def copgen_plugin(qgis_app: Any) -> Any:
    """The plugin object classFactory(None) returned, as under qgis_process."""
    return _STATE["plugin"]


@pytest.fixture(scope="session")
def plugin_package(qgis_app: Any) -> Any:
    """The plugin imported under its QGIS name (`copgen`), for its inner modules."""
    return _STATE["package"]
