#!/usr/bin/env bash
# Pictures of the first recipe of docs/USAGE.md ("fill the clouds of an L2A product"): a SAFE
# zip made from the real TerraMesh rasters (../shared/data) with clouds drawn where its SCL says,
# filled by copgen:gapfill (MASK_SOURCE=SCL, demo model) through qgis_process, then the dialog
# and the input / filled layers in desktop QGIS under Xvfb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cell="$root/../shared/data/terramesh/282D_485L_3_3"
[ -f "$cell/S2L2A.tif" ] || { echo "needs the real rasters in $cell" >&2; exit 1; }
out="$root/build/clouds"
rm -rf "$out" && mkdir -p "$out/in"
zip=$(cd "$root" && .venv/bin/python - "$cell" "$out/in" <<'PY'
import sys
from pathlib import Path
from tests.fixtures.s2_products import build_safe, zip_safe
product = build_safe(Path(sys.argv[1]), Path(sys.argv[2]), paint=True)
print(zip_safe(product, Path(sys.argv[2])))
PY
)
COPGEN_QGIS_HOME="$out/qgis-home" bash "$root/scripts/qgis_process.sh" run copgen:gapfill -- \
  INPUT="$zip" MASK_SOURCE=1 MASK_BUFFER=60 MODEL="$root/resources/models/copgen-demo" \
  N_SAMPLES=4 STEPS=20 DEVICE=2 OUTPUT="$out/filled.tif" SPREAD="$out/spread.tif" \
  SAMPLES="$out/samples" > "$out/gapfill.log" 2>&1
grep -E "^(masked|gap source|note)" "$out/gapfill.log" || true
bash "$root/scripts/desktop_qgis.sh" "$root/scripts/screenshots_clouds_qgis.py" \
  COPGEN_CLOUDS="$out" COPGEN_ZIP="$zip"
ls -la "$root"/docs/images/clouds_*.png
