#!/usr/bin/env bash
# Builds the asan-ubsan preset (AddressSanitizer + UndefinedBehaviorSanitizer, -O1) and runs
# the tests under it; any ASan report or undefined behaviour aborts the test that hit it.
#   scripts/sanitize.sh         core and CLI tests (vitrine_core_tests + the sanitized vitrine-cli): what CI runs
#   scripts/sanitize.sh --all   every test, the UI suite too
# Extra arguments go to ctest. Dependencies as for scripts/test.sh (run that first).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
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
# Every report also goes to a file: a test that expects vitrine-cli to fail (and keeps its
# stderr to itself) would otherwise pass over a sanitizer abort in the child. Leak checking
# is off: LibTorch's and Qt's process-lifetime singletons would read as leaks.
REPORTS=$(mktemp -d /tmp/vitrine-sanitizer-reports.XXXXXX)
trap 'rm -rf "$REPORTS"' EXIT
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$REPORTS/ubsan"
labels=(-L core)
[ $all = 1 ] && labels=()
status=0
ctest --test-dir build/asan-ubsan --output-on-failure -j2 "${labels[@]}" "$@" || status=$?
echo "sanitize: tests took $(( $(date +%s) - start )) s"
sanitizer_reports "$REPORTS" "sanitize: sanitizer reports (from the tests or the programs they ran):" \
  "sanitize: no AddressSanitizer or UBSan reports" || status=1
exit $status
