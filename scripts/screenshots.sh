#!/usr/bin/env bash
# Screenshots for docs/USAGE.md: desktop QGIS under Xvfb with this checkout as plugin `copgen`,
# the gap-fill dialog and the demo results. Runs `make demo` first if its outputs are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/build/demo/filled.tif" ] || bash "$root/scripts/demo.sh"
bash "$root/scripts/desktop_qgis.sh" "$root/scripts/screenshots_qgis.py" \
  COPGEN_DEMO_OUT="$root/build/demo" COPGEN_SCENE="$root/resources/demo"
cp "$root/build/demo/quicklook.png" "$root/docs/images/demo_quicklook.png"
ls -la "$root/docs/images"
