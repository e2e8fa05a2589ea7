#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: QGIS from Debian, a venv that sees PyQGIS, pinned pip deps.
# A re-run checks stamps and returns in seconds. Usage: scripts/setup.sh [--no-dev]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
dev=1
[ "${1:-}" = "--no-dev" ] && dev=0

log() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: PyQGIS + qgis_process + desktop, Xvfb for the GUI smoke test,
#    ImageMagick for screenshots. Skip apt entirely when all are present.
apt_pkgs=(python3-qgis qgis python3-venv python3-matplotlib xvfb xauth imagemagick git make)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. A venv from Debian's python (pyenv's python does not see PyQGIS).
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import qgis.core' 2>/dev/null; then
  log "creating $venv (system site packages, for PyQGIS)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi

# 3. Pinned pip requirements; CUDA machines get onnxruntime-gpu, others onnxruntime.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  ort_req="$root/requirements/runtime-gpu.txt"; ort_other=onnxruntime
else
  ort_req="$root/requirements/runtime-cpu.txt"; ort_other=onnxruntime-gpu
fi
reqs=("$root/requirements/runtime.txt" "$ort_req")
# OpenVINO runs the denoiser in bf16 on CPUs that have it (the engine's CPU default where installed)
[ "$ort_req" = "$root/requirements/runtime-cpu.txt" ] && reqs+=("$root/requirements/openvino.txt")
[ $dev -eq 1 ] && reqs+=("$root/requirements/dev.txt")
stamp="$venv/.copgen-setup-stamp"
want=$(cat "$root/requirements/constraints.txt" "${reqs[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # onnxruntime and onnxruntime-gpu share an import name: never both in one env.
  if "$venv/bin/python" -m pip show -q "$ort_other" >/dev/null 2>&1; then
    "$venv/bin/python" -m pip uninstall -y -q "$ort_other"
  fi
  log "pip install ${reqs[*]##*/}"
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q \
    -c "$root/requirements/constraints.txt" "${args[@]}"
  echo "$want" > "$stamp"
fi
# The detector's models (tests of MASK_SOURCE detector); no deps: only its ONNX files are used.
if [ $dev -eq 1 ] && ! "$venv/bin/python" -m pip show -q ukis-csmask >/dev/null 2>&1; then
  log "pip install --no-deps detector.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q --no-deps \
    -r "$root/requirements/detector.txt"
fi
log "ready: $venv ($("$venv/bin/python" -c 'import onnxruntime, numpy; print("onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'))"
