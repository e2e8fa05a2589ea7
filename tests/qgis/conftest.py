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


@pytest.fixture(scope="session")
def tiny_package(full_package: Path) -> Path:
    """The QGIS tests run the session's full tiny package (tests/conftest.py: S2 L2A's three
    groups, DEM, S1, LULC, lat/lon, date), built once for every folder; they only read it."""
    return full_package


@pytest.fixture(scope="session")
def s2_scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 12-band S2 L2A GeoTIFF (int16 DN, nodata 0) with a cloud-shaped gap, and a DEM on a
    coarser grid in another CRS, written with rasterio."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    root = tmp_path_factory.mktemp("scene")
    rng = np.random.default_rng(7)
    h, w = 230, 250
    yy, xx = np.mgrid[0:h, 0:w]
    base = 800 + 600 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    data = np.stack([base * (0.6 + 0.08 * b) + rng.normal(0, 30, (h, w)) for b in range(12)])
    data = np.clip(data, 1, 9000).astype(np.int16)
    cloud = (((yy - 110) / 38.0) ** 2 + ((xx - 120) / 52.0) ** 2
             + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 5.0)) < 1.0
    data[:, cloud] = 0
    names = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"]
    s2 = root / "s2_l2a.tif"
    profile = dict(driver="GTiff", width=w, height=h, count=12, dtype="int16", nodata=0,
                   crs="EPSG:32631", transform=from_origin(500_000, 5_000_000, 10, 10))
    with rasterio.open(s2, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, 1):
            dst.set_band_description(i, name)
    dem = root / "dem_25m.tif"
    dh, dw = 110, 120
    dem_values = (200 + 0.5 * np.add.outer(np.arange(dh), np.arange(dw))).astype(np.float32)
    with rasterio.open(dem, "w", driver="GTiff", width=dw, height=dh, count=1, dtype="float32",
                       crs="EPSG:32631", transform=from_origin(499_900, 5_000_100, 25, 25),
                       nodata=-9999) as dst:
        dst.write(dem_values[None])
    return {"s2": s2, "dem": dem, "cloud_pixels": int(cloud.sum())}
