#!/usr/bin/env bash
# Issue 6 figures: Vitrine's analysis code (bench_analysis) beside the Python peers
# (scikit-learn PCA/TSNE, umap-learn, FAISS IndexFlatIP, hnswlib) in one run.
# Usage: bench/run_analysis_vs_peers.sh [build-dir] [out.jsonl]
# Peers come from shared/bench/peers (w3_knn.py, w4_proj.py), run with /usr/bin/python3.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build/release}"
out="${2:-/tmp/analysis_vs_peers.jsonl}"
peers="${PEERS:-$here/shared/bench/peers}"
[ -d "$peers" ] || peers=/work/shared/bench/peers
export OPENBLAS_CORETYPE=COOPERLAKE
drv="$build/bench/bench_analysis"
: > "$out"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$drv" pca --n 100000 --repeats 3 | tee -a "$out"
"$drv" exact --n 100000 --nq 1000 --repeats 3 | tee -a "$out"
"$drv" hnsw --n 100000 --nq 1000 --clusters 100 --ef 128 | tee -a "$out"
"$drv" tsne --n 10000 --trust | tee -a "$out"
"$drv" umap --n 10000 --trust | tee -a "$out"
(cd "$peers" && /usr/bin/python3 w3_knn.py --sizes 100000 --repeats 3 --build-repeats 1) | tee -a "$out"
(cd "$peers" && /usr/bin/python3 w4_proj.py --repeats 3 --slow-repeats 1) | tee -a "$out"
