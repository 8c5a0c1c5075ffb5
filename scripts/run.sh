#!/usr/bin/env bash
# Quick start 1: install dependencies, build the window (build/dev, the build scripts/test.sh
# uses too: one compile for both) and open Vitrine on the demo photos.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/install-deps.sh
configure_dev
cmake --build --preset dev --target vitrine
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]]; then
  echo "No display found: starting Vitrine under Xvfb (set DISPLAY to use your desktop)." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" build/dev/app/vitrine "$@"
fi
exec build/dev/app/vitrine "$@"
