#!/usr/bin/env bash
# Vitrine vs its Python peers, same machine, same run (issue 9).
#
#   bench/run.sh [--quick] [--reps N] [--no-install] [--no-build] [--isa avx2] [workloads...]
#
# workloads: w0 w1 w1b w2 w3 w4 w5 w8 (default: all). For each workload the Vitrine driver
# and its peer (bench/peers/*.py, Debian's /usr/bin/python3) run ALTERNATELY, --reps times
# each (3, --quick: 1 with small sizes), the order flipping every repetition. Every run
# prints one JSON line per measured case; they are collected in
# build/bench/<time>/results.jsonl, and bench/report.py prints the table and writes
# bench/RESULTS.md (--quick writes build/bench/<time>/RESULTS.md instead).
# Both sides run with the OPENBLAS_CORETYPE Vitrine's programs select for this CPU
# (core/common/compute_env.h: COOPERLAKE with AVX512_BF16, SKYLAKEX with AVX-512, HASWELL with
# AVX2) and 2 compute threads. VITRINE_BENCH_BUILD=dev uses build/dev instead of the release
# preset (same -O2 code; builds only the drivers, which a plain build leaves out). --isa avx2
# measures an AVX2-only CPU on a newer one: both sides run with oneDNN, ATen and OpenBLAS capped
# to AVX2 (DNNL_MAX_CPU_ISA, ATEN_CPU_CAPABILITY, OPENBLAS_CORETYPE=HASWELL); RESULTS.md gets its
# own section for it.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 REPS="" INSTALL=1 BUILD=1 WL=()
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-build) BUILD=0 ;;
    --isa) [[ $2 == avx2 ]] || { echo "run.sh: --isa takes avx2" >&2; exit 2; }
      export DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=HASWELL; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    w0|w1|w1b|w2|w3|w4|w5|w8) WL+=("$1") ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
((${#WL[@]})) || WL=(w0 w1 w1b w2 w3 w4 w5 w8)
[[ -n $REPS ]] || REPS=$((QUICK ? 1 : 3))
# The slowest workloads (hnsw build ~1 min, t-SNE, UMAP) run at most twice each, to keep a
# full run near 20 minutes on 2 cores.
SLOW_REPS=$((REPS < 2 ? REPS : 2))

PY=/usr/bin/python3
PEERS=$ROOT/bench/peers
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  if grep -qw avx512_bf16 /proc/cpuinfo; then OPENBLAS_CORETYPE=COOPERLAKE
  elif grep -qw avx512f /proc/cpuinfo; then OPENBLAS_CORETYPE=SKYLAKEX
  elif grep -qw avx2 /proc/cpuinfo; then OPENBLAS_CORETYPE=HASWELL
  fi
fi
export OPENBLAS_CORETYPE
OUT=$ROOT/build/bench/$(date -u +%Y%m%dT%H%M%S)$( ((QUICK)) && echo -quick)
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl LOG=$OUT/log.txt
DATA=/tmp/vitrine-bench-data
PHOTOS=${VITRINE_BENCH_PHOTOS:-/work/shared/data/pets}
[[ -d $PHOTOS ]] || PHOTOS=$ROOT/resources/demo
: > "$RESULTS"
say() { echo "[$(date -u +%T)] $*" | tee -a "$LOG" >&2; }
say "bench: workloads ${WL[*]}, $REPS repetitions, quick=$QUICK, output $OUT, load $(cut -d' ' -f1-3 /proc/loadavg)"

if ((INSTALL)); then
  "$ROOT/scripts/install-deps.sh" --with-peers >>"$LOG" 2>&1 ||
    say "warning: scripts/install-deps.sh --with-peers failed (see $LOG); peers that need a missing package will fail"
fi

BIN=$ROOT/build/${VITRINE_BENCH_BUILD:-release}
TARGETS=(bench_matmul bench_embed bench_train_step bench_analysis bench_preprocess vitrine-cli)
if ((BUILD)); then
  PRESET=${VITRINE_BENCH_BUILD:-release}
  say "building $PRESET: ${TARGETS[*]}"
  { cmake --preset "$PRESET" && cmake --build --preset "$PRESET" -j 2 --target "${TARGETS[@]}"; } >>"$LOG" 2>&1 ||
    { say "build failed, see $LOG"; exit 1; }
fi
CLI=$BIN/app/vitrine-cli

# Sizes: full / quick.
if ((QUICK)); then
  N_KNN=20000 N_Q=200 N_PCA=20000 N_TSNE=2000 N_PHOTOS=200 N_W5=100
  W0_ARGS="--sizes 1024 --blocks 2" W1_ARGS="--batches 8,1 --calls 1 --fp32-calls 1"
  W2_ARGS="--sizes 112 --steps 1 --fp32-steps 1" W5_PASSES=1
else
  N_KNN=100000 N_Q=1000 N_PCA=100000 N_TSNE=10000 N_PHOTOS=1000 N_W5=500
  W0_ARGS="--sizes 1024,2048 --blocks 3" W1_ARGS="--batches 32,1 --calls 3 --fp32-calls 1"
  W2_ARGS="--sizes 224,112 --steps 3 --fp32-steps 1" W5_PASSES=3
fi
say "making inputs in $DATA (cached)"
$PY "$PEERS/make_data.py" "$DATA" "$PHOTOS" --knn $N_KNN --queries $N_Q --pca $N_PCA --tsne $N_TSNE \
  --photos-n $N_PHOTOS >>"$LOG" 2>&1 || { say "make_data.py failed, see $LOG"; exit 1; }
KNN="$DATA/knn_base_$N_KNN.npy $DATA/knn_queries_$N_Q.npy"
HNSW="$DATA/hnsw_base_$N_KNN.npy $DATA/hnsw_queries_$N_Q.npy"
TREE=$DATA/photos_$N_PHOTOS

# Wall-clock images/s of a whole command (W1b: start-up, model, decode, embed, write).
timed() { # side n case cmd...
  local side=$1 n=$2 case=$3; shift 3
  local t0 t1 rc
  local out; out=$(mktemp)
  t0=$(date +%s.%N); "$@" >"$out" 2>&1; rc=$?; t1=$(date +%s.%N)
  cat "$out" >>"$LOG"
  ((rc == 0)) || { say "  $side W1b failed (rc $rc)"; rm -f "$out"; return 1; }
  # The record names the CPU and what ran: Vitrine's --json summary line (precision, int8
  # cosine check) plus `vitrine-cli info`'s compute summary; the peer prints "variant: ...".
  $PY - "$side" "$n" "$case" "$t0" "$t1" "$out" "$CLI" <<'PYEOF'
import json, subprocess, sys
side, n, case, t0, t1, out, cli = sys.argv[1:8]
dt = float(t1) - float(t0)
rec = {"workload": "W1b", "case": case, "side": side, "value": round(int(n) / dt, 4), "unit": "images/s",
       "higher_is_better": True, "seconds": round(dt, 3)}
for line in open(out, errors="replace"):
    line = line.strip()
    if line.startswith("variant:"):
        rec["variant"] = line.split(":", 1)[1].strip()
    elif line.startswith("{"):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        for k in ("precision", "int8_min_cosine"):
            if k in j:
                rec[k] = j[k]
if side == "vitrine":
    try:
        info = json.loads(subprocess.run([cli, "info", "--json"], capture_output=True, text=True, timeout=120).stdout)
        rec["cpu"] = f"{info.get('cpu')} · {info.get('cpu_flags')} · auto inference {info.get('precision_auto_inference')} · {info.get('kernels')} · {info.get('threads')} threads"
    except Exception as e:
        rec["cpu"] = f"unknown ({e})"
print(json.dumps(rec))
PYEOF
  rm -f "$out"
}

# One function per workload and side; each prints JSON lines on stdout.
v_w0() { "$BIN/bench/bench_matmul" $W0_ARGS --threads 2; }
p_w0() { $PY "$PEERS/w0_matmul.py" $W0_ARGS; }
v_w1() { "$BIN/bench/bench_embed" $W1_ARGS --threads 2; }
p_w1() { $PY "$PEERS/w1_embed.py" $W1_ARGS; }
W1B_CASE="embed $N_PHOTOS JPEGs to .npy, vit-small-16"
v_w1b() { timed vitrine $N_PHOTOS "$W1B_CASE" "$CLI" --threads 2 embed --model vit-small-16 --data "$TREE" --out "$OUT/w1b_vitrine.npy" --json; }
p_w1b() { timed peer $N_PHOTOS "$W1B_CASE" $PY "$PEERS/w1b_embed_files.py" "$TREE" "$OUT/w1b_peer.npy"; }
v_w2() { "$BIN/bench/bench_train_step" $W2_ARGS --threads 2; }
p_w2() { $PY "$PEERS/w2_train.py" $W2_ARGS; }
v_w3() {
  "$BIN/bench/bench_analysis" exact --data ${KNN% *} --queries ${KNN#* } --threads 2 --repeats 3 | grep '"side"'
  ((rep <= SLOW_REPS)) || return 0
  "$BIN/bench/bench_analysis" hnsw --data ${HNSW% *} --queries ${HNSW#* } --threads 2 --repeats 3 | grep '"side"'
}
p_w3() {
  $PY "$PEERS/w3_knn.py" exact $KNN
  ((rep <= SLOW_REPS)) || return 0
  $PY "$PEERS/w3_knn.py" hnsw $HNSW
}
v_w4() {
  "$BIN/bench/bench_analysis" pca --data "$DATA/proj_$N_PCA.npy" --threads 2 --repeats 3 | grep '"side"'
  ((rep <= SLOW_REPS)) || return 0
  for m in tsne umap; do
    "$BIN/bench/bench_analysis" $m --data "$DATA/proj_$N_TSNE.npy" --threads 2 --repeats 1 --trust | grep '"side"'
  done
}
p_w4() {
  $PY "$PEERS/w4_proj.py" pca "$DATA/proj_$N_PCA.npy" --fits 3 --no-trust
  ((rep <= SLOW_REPS)) || return 0
  for m in tsne umap; do $PY "$PEERS/w4_proj.py" $m "$DATA/proj_$N_TSNE.npy"; done
}
# W8: audit from precomputed embeddings (the t-SNE input: 10 clusters x 384), pixels not hashed.
v_w8() { "$BIN/bench/bench_analysis" audit --data "$DATA/proj_$N_TSNE.npy" --clusters 10 --threads 2 --repeats 3 | grep '"side"'; }
p_w8() { $PY "$PEERS/w8_audit.py" "$DATA/proj_$N_TSNE.npy" --clusters 10 --blocks 3; }
v_w5() { "$BIN/bench/bench_preprocess" --dir "$PHOTOS" --n $N_W5 --passes $W5_PASSES; }
p_w5() { $PY "$PEERS/w5_images.py" "$PHOTOS" --n $N_W5 --passes $W5_PASSES; }

run_side() { # side workload
  local start=$SECONDS lines
  lines=$("${1:0:1}_$2" 2>>"$LOG" | grep '^{' | sed "s/^{/{\"rep\": $rep, /")
  [[ -n $lines ]] && echo "$lines" >>"$RESULTS" || say "  $1 $2 rep $rep produced no result (see $LOG)"
  say "  $2 $1 rep $rep: $((SECONDS - start)) s"
}

if [[ " ${WL[*]} " == *" w1b "* ]]; then find -L "$TREE" -name '*.jpg' -exec cat {} + >/dev/null; fi
for w in "${WL[@]}"; do
  say "$w"
  for ((rep = 1; rep <= REPS; ++rep)); do
    if ((rep % 2)); then run_side vitrine $w; run_side peer $w; else run_side peer $w; run_side vitrine $w; fi
  done
done
say "done, load $(cut -d' ' -f1-3 /proc/loadavg)"

DEST=$ROOT/bench/RESULTS.md
((QUICK)) && DEST=$OUT/RESULTS.md
$PY "$ROOT/bench/report.py" "$RESULTS" --out "$DEST" --reps $REPS --slow-reps $SLOW_REPS $( ((QUICK)) && echo --quick)
