"""COP-GEN for QGIS: generative gap filling and any-to-any generation of Copernicus rasters.

This package is imported by QGIS at start-up, so it must stay light: no onnxruntime, rasterio,
torch or qgis imports here. Modules inside it import each other relatively, because QGIS
imports the plugin folder under its own name (e.g. ``copgen.copgen_plugin``).
"""

from __future__ import annotations

__version__ = "0.1.0"
