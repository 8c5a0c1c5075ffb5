#!/usr/bin/env bash
# W6 cold start: seconds from starting `vitrine` to its window being mapped on the screen,
# under Xvfb (xdotool waits for the window), N launches with a fresh settings folder each.
#
#   bench/cold_start.sh [N] [BUILD_DIR]     (default 5 launches, build/release)
#
# Two ways of starting are timed alternately: the launcher (`app/vitrine`, what a person
# runs: sets the compute environment, then executes the program once) and the program in
# `app/libexec/` started directly with that environment unset (it loads LibTorch, sets the
# variables and re-executes itself: what every start cost before the launcher). Needs Xvfb
# and xdotool (Debian packages xvfb, xdotool).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5}
BIN=${2:-$ROOT/build/release}
command -v xdotool >/dev/null && command -v Xvfb >/dev/null || { echo "cold_start.sh: needs xvfb and xdotool" >&2; exit 2; }
# Xvfb picks a free display and writes its number to a pipe once it accepts connections.
exec 3< <(Xvfb -displayfd 1 -screen 0 1600x1000x24 2>/dev/null & echo "pid $!")
read -r _ XVFB <&3
read -r DISPLAY_NUM <&3
trap 'kill $XVFB 2>/dev/null' EXIT
export DISPLAY=:$DISPLAY_NUM
launch() { # launch <label> <command...>: prints seconds to a visible window
  local label=$1; shift
  local cfg; cfg=$(mktemp -d)
  local t0 t1
  t0=$(date +%s.%N)
  env -u OPENBLAS_CORETYPE -u OMP_WAIT_POLICY XDG_CONFIG_HOME="$cfg" XDG_DATA_HOME="$cfg" "$@" >/dev/null 2>"$cfg/stderr.txt" &
  local pid=$!
  # (xdotool's own --sync polls every 0.5 s; poll every 10 ms instead.)
  until xdotool search --onlyvisible --pid "$pid" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "cold_start.sh: $* exited before showing a window; its stderr:" >&2
      cat "$cfg/stderr.txt" >&2
      exit 1
    fi
    sleep 0.01
  done
  t1=$(date +%s.%N)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$cfg"
  python3 -c "import json,sys; print(json.dumps({'workload':'W6','case':'cold_start','start':sys.argv[1],'seconds':round(float(sys.argv[3])-float(sys.argv[2]),3),'load':open('/proc/loadavg').read().split()[0]}))" "$label" "$t0" "$t1"
}
for ((i = 0; i < N; i++)); do
  launch launcher "$BIN/app/vitrine"
  launch re-exec "$BIN/app/libexec/vitrine"
done
