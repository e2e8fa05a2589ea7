"""geo stays numpy + rasterio: no QGIS, torch, onnxruntime or engine behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_geo_imports_no_heavy_or_sibling_packages():
    code = (
        "import sys, copgen_plugin.geo\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('qgis', 'torch', 'onnxruntime', 'PyQt5') or m.startswith('copgen_plugin.engine')"
        " or m.startswith('copgen_plugin.processing'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
