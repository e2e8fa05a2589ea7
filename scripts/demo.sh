#!/usr/bin/env bash
# The main job, offline: a generative gap fill of the embedded synthetic scene with the
# embedded demo model, through qgis_process, plus the diagnostics and a quicklook PNG.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scene="$root/resources/demo"
model="$root/resources/models/copgen-demo"
out="$root/build/demo"
rm -rf "$out" && mkdir -p "$out"
export HF_HUB_OFFLINE=1 COPGEN_MODELS_DIR="$out/models"

"$root/scripts/qgis_process.sh" run copgen:diagnostics --json -- DEVICE=0 \
  "OUTPUT=$out/diagnostics.md" > "$out/diagnostics.json"
echo "[demo] device: $(grep -o '| ort_provider_used | [^|]*' "$out/diagnostics.md" | cut -d'|' -f3)"

echo "[demo] copgen:gapfill on $scene/s2l2a.tif with the demo model (trained on synthetic"
echo "[demo] scenes, not COP-GEN's weights): ${COPGEN_DEMO_SAMPLES:-8} samples, ${COPGEN_DEMO_STEPS:-50} steps"
start=$(date +%s)
"$root/scripts/qgis_process.sh" run copgen:gapfill --json -- \
  "INPUT=$scene/s2l2a.tif" INPUT_MODALITY=0 \
  "DEM=$scene/dem.tif" "S1RTC=$scene/s1rtc.tif" "LULC=$scene/lulc.tif" \
  DATE=2021-07-15 OVERLAP=160 S1_SCALE=2 "MODEL=$model" "N_SAMPLES=${COPGEN_DEMO_SAMPLES:-8}" \
  "STEPS=${COPGEN_DEMO_STEPS:-50}" SEED=1234 DEVICE=0 \
  "OUTPUT=$out/filled.tif" "SPREAD=$out/spread.tif" "SAMPLES=$out/samples" \
  > "$out/gapfill.json"
echo "[demo] gap fill took $(( $(date +%s) - start )) s"
variant=$(grep -o '"model variant: [^"]*' "$out/gapfill.json" | head -1 | cut -c2-)
[ -z "$variant" ] || echo "[demo] $variant"

"$root/.venv/bin/python" "$root/scripts/quicklook.py" "$out" --target "$scene/s2l2a.tif" \
  --truth "$scene/s2l2a_truth.tif" --png "$out/quicklook.png"
echo "[demo] outputs:"
echo "  filled layer : $out/filled.tif"
echo "  spread layer : $out/spread.tif"
echo "  samples      : $out/samples/"
echo "  quicklook    : $out/quicklook.png"
echo "  run details  : $out/gapfill.json, $out/diagnostics.md"
