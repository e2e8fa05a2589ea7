#!/usr/bin/env bash
# Screenshots for docs/USAGE.md: desktop QGIS under Xvfb with this checkout as plugin `copgen`,
# the gap-fill dialog and the demo results. Runs `make demo` first if its outputs are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/build/demo/filled.tif" ] || bash "$root/scripts/demo.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins" "$work/runtime" "$work/root/profiles/docs/QGIS" "$root/docs/images"
chmod 700 "$work/runtime"
ln -s "$root" "$work/plugins/copgen"
printf '[PythonPlugins]\ncopgen=true\n\n[qgis]\ncheckVersion=false\n' \
  > "$work/root/profiles/docs/QGIS/QGIS3.ini"
site=$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
env -u QT_QPA_PLATFORM QGIS_PLUGINPATH="$work/plugins" XDG_RUNTIME_DIR="$work/runtime" \
  PYTHONPATH="$site:/usr/share/qgis/python/plugins" COPGEN_MODELS_DIR="$root/resources/models" \
  COPGEN_SHOTS="$root/docs/images" COPGEN_DEMO_OUT="$root/build/demo" \
  COPGEN_SCENE="$root/resources/demo" \
  xvfb-run -a -s "-screen 0 1400x900x24" /usr/bin/qgis.bin --nologo --noversioncheck \
  --profiles-path "$work/root" --profile docs --code "$root/scripts/screenshots_qgis.py" \
  > "$work/qgis.log" 2>&1 || true
if [ -s "$root/docs/images/errors.txt" ]; then cat "$root/docs/images/errors.txt"; exit 1; fi
rm -f "$root/docs/images/errors.txt"
cp "$root/build/demo/quicklook.png" "$root/docs/images/demo_quicklook.png"
ls -la "$root/docs/images"
