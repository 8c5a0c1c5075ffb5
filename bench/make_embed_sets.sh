#!/bin/bash
# Builds /tmp/vitrine-mem-N/<breed>/<breed>_cNNNNN.jpg (N = 1000, 10000) by hard links to the
# demo photos and shared/data/pets in turn, for the peak-RSS figures in docs/RELIABILITY.md.
# usage: bench/make_embed_sets.sh [PETS_DIR]   (run from the repository root)
set -e
PETS=${1:-/work/shared/data/pets}
SRC=( $(find resources/demo "$PETS" -name '*.jpg' | sort) )
for N in 1000 10000; do
  D=/tmp/vitrine-mem-$N; rm -rf "$D"; mkdir -p "$D"
  for ((i = 0; i < N; i++)); do
    f=${SRC[$((i % ${#SRC[@]}))]}; b=$(basename "$(dirname "$f")")
    mkdir -p "$D/$b"; ln "$f" "$D/$b/${b}_c$(printf %05d $i).jpg"
  done
  echo "$N: $(find "$D" -name '*.jpg' | wc -l) files in $(ls "$D" | wc -l) classes"
done
