#!/usr/bin/env bash
# Quick start 1: install dependencies, build (release) and open Vitrine on the demo photos.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]]; then
  echo "No display found: starting Vitrine under Xvfb (set DISPLAY to use your desktop)." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" build/release/app/vitrine "$@"
fi
exec build/release/app/vitrine "$@"
