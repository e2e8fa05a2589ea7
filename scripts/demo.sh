#!/usr/bin/env bash
# The main job, offline. Until the gap-fill algorithm lands this runs copgen:diagnostics through
# qgis_process and prints the report it writes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/demo"
mkdir -p "$out"
"$root/scripts/qgis_process.sh" run copgen:diagnostics --json -- DEVICE=0 \
  "OUTPUT=$out/diagnostics.md" > "$out/diagnostics.json"
cat "$out/diagnostics.md"
echo "[demo] report: $out/diagnostics.md (JSON results: $out/diagnostics.json)"
