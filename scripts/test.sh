#!/usr/bin/env bash
# Quick start 2: install dependencies, build (dev preset) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Warnings are errors here, as in CI (VITRINE_WERROR: Vitrine's own code only; the setting stays in
# build/dev's cache until configured with -DVITRINE_WERROR=OFF).
cmake --preset dev -DVITRINE_WERROR=ON >/dev/null
cmake --build --preset dev
ctest --preset dev -j2 "$@"
