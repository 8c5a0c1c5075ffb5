#!/usr/bin/env bash
# Quick start 2: install dependencies, build (dev preset, as CI: warnings are errors) and run the
# whole test suite. Shares build/dev with scripts/run.sh, so after one the other compiles only
# what it adds (the tests, vitrine-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/install-deps.sh
configure_dev
cmake --build --preset dev
ctest --preset dev -j2 "$@"
