"""QGIS entry point of the COP-GEN plugin: classFactory only, nothing heavy at import."""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any) -> Any:
    """Return the plugin object; `iface` is None under qgis_process, so it is only stored."""
    from .copgen_plugin.plugin import CopgenPlugin

    return CopgenPlugin(iface)
