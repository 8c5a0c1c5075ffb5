#!/usr/bin/python3
"""W3 peer: top-10 neighbours over .npy data made by make_data.py.
  exact BASE.npy QUERIES.npy : faiss.IndexFlatIP (rows are unit vectors: cosine = IP);
                               value = queries/s of searching all queries at once.
  hnsw  BASE.npy QUERIES.npy : hnswlib, space 'cosine', M 16, ef_construction 200, 2 threads;
                               build seconds; queries/s and recall@10 (vs exact) at --ef
                               (default 128, Vitrine's setting: same M, ef_construction, ef),
                               and, for the notes, the smallest ef in 16..512 with recall >= 0.95.
Usage: w3_knn.py exact|hnsw BASE.npy QUERIES.npy [--blocks 3] [--ef 128]"""
import argparse
import time

import numpy as np

from common import emit, log, median, setup_threads, time_blocks


def exact_ids(x, q, k=10):
    import faiss
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index, index.search(q, k)[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("mode", choices=["exact", "hnsw"])
    ap.add_argument("base")
    ap.add_argument("queries")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--ef", type=int, default=128)
    args = ap.parse_args()
    setup_threads(2)
    x, q = np.load(args.base), np.load(args.queries)
    n, nq = len(x), len(q)
    if args.mode == "exact":
        index, _ = exact_ids(x, q)
        secs = time_blocks(lambda: index.search(q, 10), args.blocks)
        emit("W3", f"exact top-10, {nq} queries over {n}x384", median([nq / s for s in secs]),
             "queries/s", True, variant="faiss.IndexFlatIP", search_s=secs)
        return
    import hnswlib
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    _, truth = exact_ids(xn, qn)
    p = hnswlib.Index(space="cosine", dim=x.shape[1])
    p.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    t0 = time.perf_counter()
    p.add_items(x, np.arange(n), num_threads=2)
    build = time.perf_counter() - t0
    emit("W3", f"hnsw M16 build {n}x384", build, "s", False, variant="hnswlib")
    p.set_num_threads(2)
    sweep = {}
    for ef in sorted({16, 32, 64, 128, 256, 512, args.ef}):
        if ef > args.ef and any(r["recall@10"] >= 0.95 for r in sweep.values()):
            break
        p.set_ef(ef)
        labels, _ = p.knn_query(q, k=10)
        recall = sum(len(set(a) & set(b)) for a, b in zip(labels, truth)) / truth.size
        secs = time_blocks(lambda: p.knn_query(q, k=10), args.blocks)
        sweep[ef] = {"recall@10": recall, "queries_per_s": median([nq / s for s in secs])}
        log(f"hnswlib ef {ef}: recall {recall:.3f}, {sweep[ef]['queries_per_s']:.0f} q/s")
    ok = [e for e in sweep if sweep[e]["recall@10"] >= 0.95]
    tuned = min(ok) if ok else None
    emit("W3", f"hnsw M16 search, {nq} queries", sweep[args.ef]["queries_per_s"], "queries/s", True,
         variant=f"hnswlib ef {args.ef}", ef=args.ef, **{"recall@10": sweep[args.ef]["recall@10"]},
         tuned_ef=tuned, tuned_queries_per_s=sweep[tuned]["queries_per_s"] if tuned else None, sweep=sweep)


if __name__ == "__main__":
    main()
