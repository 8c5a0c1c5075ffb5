#!/usr/bin/env bash
# Builds the tsan preset (ThreadSanitizer, -O1 -g) and runs the threaded tests under it: the
# core Catch2 cases tagged [threads] (the embed pipeline's reader thread; the trainer paused,
# snapshotted and cancelled from another thread; cancellation through the CancelToken). Only
# what they need is built: core, ui and vitrine_thread_tests (tests/CMakeLists.txt), not the
# whole suite or vitrine-cli. Any report fails the run.
#   scripts/tsan.sh              the core [threads] cases (run before a change to threads lands)
#   scripts/tsan.sh --ui         the UI [threads] cases too (job runner, thumbnail cache, training
#                                controller): see below, they cannot pass with Debian's Qt
#   scripts/tsan.sh "[train]"    other Catch2 test specs, in vitrine_thread_tests' four files
# Dependencies as for scripts/test.sh (run that first).
#
# LibTorch, OpenMP (libgomp), oneDNN, OpenBLAS and Qt are Debian's builds, not instrumented:
# TSan does not see their memory accesses nor the synchronisation inside them. So the compute
# libraries run on one thread (OMP_NUM_THREADS=1: ATen's intra-op pool and OpenBLAS then run
# inline), which removes their internal thread pools from the picture; Vitrine's own threads
# are what is tested. tests/tsan.supp lists the reports that lie wholly inside those libraries,
# each with why; Vitrine's code is never suppressed.
#
# Qt is the exception that cannot be worked around with suppressions: Qt 6 on Linux
# synchronises its event queue, QMutex, QWaitCondition and QThreadPool through futexes, which
# TSan does not intercept, so every queued call from a worker to the GUI thread (JobRunner's
# progress and results, TrainingController::post) and every pool task reads as a data race.
# The UI cases gave 191 reports on 2026-12-02, all of that kind (140 inside Qt's queued-call
# machinery, the rest in QThreadPool, glib and Qt Gui). Checking them needs a Qt built with
# -sanitize thread; --ui runs them for whoever has one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ui=0
if [ "${1:-}" = "--ui" ]; then ui=1; shift; fi
spec=("$@")
if ((${#spec[@]} == 0)); then
  # Catch2's file-name tags (-#) pick the core files' [threads] cases.
  spec=(-# "[threads][#test_model_embedder],[threads][#test_train_trainer]")
  ((ui)) && spec=("[threads]")
fi
cmake --preset tsan >/dev/null
start=$(date +%s)
cmake --build --preset tsan
echo "tsan: build took $(( $(date +%s) - start )) s"

REPORTS=$(mktemp -d /tmp/vitrine-tsan-reports.XXXXXX)
trap 'rm -rf "$REPORTS"' EXIT
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export QT_QPA_PLATFORM=offscreen
# history_size: longer access histories, so both stacks of a race are shown. die_after_fork=0:
# tests may start programs (QProcess/fork) while threads run, which is safe with exec.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:history_size=4:second_deadlock_stack=1:die_after_fork=0:log_path=$REPORTS/tsan"
start=$(date +%s)
status=0
build/tsan/tests/vitrine_thread_tests "${spec[@]}" || status=$?
echo "tsan: tests took $(( $(date +%s) - start )) s"
sanitizer_reports "$REPORTS" "tsan: ThreadSanitizer reports:" "tsan: no ThreadSanitizer reports" || status=1
exit $status
