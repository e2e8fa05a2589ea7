#!/usr/bin/env bash
# The whole suite in one pytest process; fails on any failure, including a segfault (139) at
# interpreter exit after all tests passed (QGIS_ENV.md pitfall 3). Extra args go to pytest.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export QT_QPA_PLATFORM=offscreen
XDG_RUNTIME_DIR=$(mktemp -d)
chmod 700 "$XDG_RUNTIME_DIR"
export XDG_RUNTIME_DIR
export PYTHONFAULTHANDLER=1
mkdir -p build
.venv/bin/python -m pytest "$@"
rc=$?
rm -rf "$XDG_RUNTIME_DIR"
case $rc in
  0) echo "[run_tests] suite passed" ;;
  5) echo "[run_tests] FAILED: pytest collected no tests" ;;
  139) echo "[run_tests] FAILED: segmentation fault (exit 139), also if it came after the last test" ;;
  *) echo "[run_tests] FAILED: pytest exit code $rc" ;;
esac
exit $rc
