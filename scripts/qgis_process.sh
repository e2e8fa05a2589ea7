#!/usr/bin/env bash
# Run Debian's qgis_process.bin with this checkout as plugin `copgen` in a throwaway profile.
# Usage: scripts/qgis_process.sh run copgen:diagnostics -- OUTPUT=report.md
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${COPGEN_QGIS_HOME:-$root/build/qgis-home}
mkdir -p "$work/plugins" "$work/runtime"
chmod 700 "$work/runtime"
ln -sfn "$root" "$work/plugins/copgen"
site=$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export QGIS_PLUGINPATH="$work/plugins" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config"
export XDG_RUNTIME_DIR="$work/runtime" QT_QPA_PLATFORM=offscreen
export PYTHONPATH="$site:/usr/share/qgis/python/plugins${PYTHONPATH:+:$PYTHONPATH}"
# qgis_process only sees plugins enabled in its profile (QGIS_ENV.md #8); enabling is idempotent.
/usr/bin/qgis_process.bin plugins enable copgen >/dev/null 2>&1 || true  # non-zero if already on
exec /usr/bin/qgis_process.bin "$@"
