"""How tests start real QGIS: a plugins folder holding the repo as plugin `copgen`, env for
qgis_process and desktop QGIS (see ../shared/reference/QGIS_ENV.md for the pitfalls)."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_NAME = "copgen"
QGIS_PYTHON_PLUGINS = Path("/usr/share/qgis/python/plugins")


def make_plugins_dir(base: Path) -> Path:
    """A QGIS_PLUGINPATH folder whose `copgen` entry is this checkout (a symlink)."""
    plugins = base / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / PLUGIN_NAME
    if not link.exists():
        link.symlink_to(REPO_ROOT, target_is_directory=True)
    return plugins


def venv_site_packages() -> str:
    """qgis_process embeds Debian's python and ignores venv activation: pass our site-packages."""
    return sysconfig.get_paths()["purelib"]


def subprocess_env(tmp: Path, plugins: Path) -> dict[str, str]:
    """Environment for qgis_process.bin / qgis.bin with an isolated profile under `tmp`."""
    runtime = tmp / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ)
    env.update(
        QGIS_PLUGINPATH=str(plugins),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONPATH=os.pathsep.join([venv_site_packages(), str(QGIS_PYTHON_PLUGINS)]),
        PYTHONUNBUFFERED="1",
        COPGEN_MODELS_DIR=str(tmp / "models"),
    )
    env.pop("PYTHONHOME", None)
    return env


def python_executable() -> str:
    return sys.executable
