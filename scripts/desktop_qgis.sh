#!/usr/bin/env bash
# Desktop QGIS under Xvfb, with this checkout as plugin `copgen` in a throwaway profile, running
# one --code script (the screenshot scripts' common part). GDAL side files are off, so the
# layers it opens leave no .aux.xml beside them. The script records its errors in
# $COPGEN_SHOTS/errors.txt (scripts/desktop_shots.py); they fail this command.
# Usage: desktop_qgis.sh CODE.py [VAR=value ...]   (the variables reach the script)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
code=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins" "$work/runtime" "$work/root/profiles/docs/QGIS" "$root/docs/images"
chmod 700 "$work/runtime"
ln -s "$root" "$work/plugins/copgen"
printf '[PythonPlugins]\ncopgen=true\n\n[qgis]\ncheckVersion=false\n' \
  > "$work/root/profiles/docs/QGIS/QGIS3.ini"
site=$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
env -u QT_QPA_PLATFORM GDAL_PAM_ENABLED=NO QGIS_PLUGINPATH="$work/plugins" \
  XDG_RUNTIME_DIR="$work/runtime" \
  PYTHONPATH="$site:/usr/share/qgis/python/plugins:$root/scripts" \
  COPGEN_MODELS_DIR="$root/resources/models" COPGEN_SHOTS="$root/docs/images" "$@" \
  xvfb-run -a -s "-screen 0 1400x900x24" /usr/bin/qgis.bin --nologo --noversioncheck \
  --profiles-path "$work/root" --profile docs --code "$code" > "$work/qgis.log" 2>&1 || true
if [ -s "$root/docs/images/errors.txt" ]; then cat "$root/docs/images/errors.txt"; exit 1; fi
rm -f "$root/docs/images/errors.txt"
