#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`, clang-14) and fuzzes each for SECONDS
# (default 300) in one low-priority process, starting from a copy of the checked-in seed
# corpus. Crashing inputs land in $WORK/artifacts/<target>/: copy them to
# tests/fuzz/regressions/<target>/ once fixed (the [fuzz-replay] test replays them).
#   scripts/fuzz.sh [SECONDS] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-300}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_safetensors fuzz_safetensors_matrices fuzz_image fuzz_npy fuzz_row_table fuzz_checkpoint_metadata fuzz_torch_checkpoint)
WORK=${WORK:-/tmp/vitrine-fuzz}
# UBSan only prints by default; make undefined behaviour a crash libFuzzer records.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Leaks inside system decoders (not Vitrine's) are listed, with why, in the suppressions.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
if [ -z "${NO_BUILD:-}" ]; then
  cmake --preset fuzz >/dev/null
  nice -n 10 ninja -C build/fuzz -j2 "${TARGETS[@]}"
fi
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/corpus/$t" "$WORK/artifacts/$t"
  cp -n tests/fuzz/corpus/"$t"/* "$WORK/corpus/$t/" 2>/dev/null || true
  echo "== $t: ${SECONDS_EACH}s"
  # fork=1 + ignore_*: keep fuzzing after a crash so one run reports every distinct bug.
  nice -n 10 build/fuzz/tests/fuzz/"$t" "$WORK/corpus/$t" -max_total_time="$SECONDS_EACH" \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -rss_limit_mb=2048 -timeout=10 \
    -max_len=16384 -artifact_prefix="$WORK/artifacts/$t/" -print_final_stats=1 >"$WORK/$t.log" 2>&1 || true
  grep -E "^#[0-9]+: cov|DONE|INFO: exiting|Done [0-9]+ runs|stat::" "$WORK/$t.log" | tail -3
  echo "artifacts: $(ls "$WORK/artifacts/$t" | wc -l)"
done
