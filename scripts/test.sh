#!/usr/bin/env bash
# Quick start 2: install dependencies, build (dev preset) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev -j2 "$@"
