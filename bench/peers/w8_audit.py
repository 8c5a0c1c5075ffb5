#!/usr/bin/python3
"""W8 peer: the data set audit from precomputed embeddings, in scikit-learn + NumPy + SciPy,
computing the same scores as core/analysis/audit.h (pixels not hashed on either side):
kNN (sklearn NearestNeighbors, brute-force cosine), near-duplicate threshold
0.25 x median nearest distance clipped to [1e-4, 0.05], connected components of the pairs
under it, inverse-distance-weighted label vote (mislabels), robust z of the mean kNN
distance through a logistic at 3.5 (outliers).
Labels and planted problems are made as bench_analysis audit makes them: label of row i is
(i + 1 if i % 97 == 0 else i) % C (C = --clusters, 10 as
make_data.py's clusters), row i + 1 := row i for i = 1, 212, 423, ...
Usage: w8_audit.py DATA.npy [--k 10] [--clusters 10] [--blocks 3]"""
import argparse

import numpy as np

from common import emit, log, median, time_blocks


def audit(x, labels, k):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.neighbors import NearestNeighbors
    n = len(x)
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute", n_jobs=2).fit(x)
    d, idx = nn.kneighbors(x)
    # Leave each row's own index out (a duplicate may come before it).
    own = idx == np.arange(n)[:, None]
    keep = ~own
    keep[own.sum(1) == 0, -1] = False
    d = d[keep].reshape(n, k).clip(min=0)
    idx = idx[keep].reshape(n, k)
    nearest = d[:, 0]
    t = float(np.clip(0.25 * np.median(nearest), 1e-4, 0.05))
    r, c = np.nonzero(d <= t)
    g = coo_matrix((np.ones(len(r)), (r, idx[r, c])), shape=(n, n))
    ncomp, comp = connected_components(g, directed=False)
    sizes = np.bincount(comp)
    groups = int((sizes > 1).sum())
    delta = max(float(np.median(nearest)), 1e-3)
    w = 1.0 / (d + delta)
    nl = int(labels.max()) + 1
    votes = np.zeros((n, nl))
    np.add.at(votes, (np.repeat(np.arange(n), k), labels[idx].ravel()), w.ravel())
    total = votes.sum(1)
    votes[np.arange(n), labels] = 0
    mis_score = votes.max(1) / total
    m = d.mean(1)
    med = np.median(m)
    mad = np.median(np.abs(m - med))
    z = 0.6745 * (m - med) / mad
    out_score = 1 / (1 + np.exp(3.5 - z))
    return groups, int((mis_score >= 0.5).sum()), int((out_score >= 0.5).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=10)
    ap.add_argument("--blocks", type=int, default=3)
    a = ap.parse_args()
    x = np.load(a.data).astype(np.float32)
    n = len(x)
    labels = np.array([(i + 1 if i % 97 == 0 else i) % a.clusters for i in range(n)])
    for i in range(1, n - 1, 211):
        x[i + 1] = x[i]
    res = audit(x, labels, a.k)
    log("duplicate groups, mislabels, outliers:", res)
    secs = time_blocks(lambda: audit(x, labels, a.k), a.blocks, warmup=0)
    emit("W8", f"audit {n}x{x.shape[1]} (k {a.k}, no pixel hashing)", median(secs), "s", False,
         seconds=secs, duplicate_groups=res[0], mislabels=res[1], outliers=res[2],
         variant="sklearn NearestNeighbors brute cosine + numpy")


if __name__ == "__main__":
    main()
