#!/usr/bin/env bash
# Builds the asan-ubsan preset (AddressSanitizer + UndefinedBehaviorSanitizer, -O1) and runs
# the tests under it; any ASan report or undefined behaviour aborts the test that hit it.
#   scripts/sanitize.sh         core and CLI tests (vitrine_core_tests + the sanitized vitrine-cli): what CI runs
#   scripts/sanitize.sh --all   every test, the UI suite too
# Extra arguments go to ctest. Dependencies as for scripts/test.sh (run that first).
set -euo pipefail
cd "$(dirname "$0")/.."
all=0
if [ "${1:-}" = "--all" ]; then all=1; shift; fi
cmake --preset asan-ubsan >/dev/null
start=$(date +%s)
if [ $all = 1 ]; then
  cmake --build --preset asan-ubsan
else
  cmake --build --preset asan-ubsan --target vitrine_core_tests vitrine-cli
fi
echo "sanitize: build took $(( $(date +%s) - start )) s"
start=$(date +%s)
# The preset sets ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 and UBSAN_OPTIONS=print_stacktrace=1
# (LibTorch's and Qt's process-lifetime singletons would otherwise read as leaks).
if [ $all = 1 ]; then
  ctest --preset asan-ubsan -j2 "$@"
else
  ctest --preset asan-ubsan -j2 -L core "$@"
fi
echo "sanitize: tests took $(( $(date +%s) - start )) s"
