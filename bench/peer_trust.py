#!/usr/bin/python3
"""Trustworthiness@10 of the peers' projections (sklearn PCA/TSNE, umap-learn) on the W4
data (10 Gaussian clusters in 384-D, centres 4*N(0,I), unit noise), and the same data
saved as .npy so `bench_analysis pca|tsne|umap --data X.npy --trust` scores Vitrine on it.
Usage: peer_trust.py [N] [out.npy]"""
import json
import sys
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
path = sys.argv[2] if len(sys.argv) > 2 else f"/tmp/w4_{n}.npy"
rng = np.random.default_rng(0)
centres = 4.0 * rng.standard_normal((10, 384)).astype(np.float32)
x = (centres[np.arange(n) % 10] + rng.standard_normal((n, 384), dtype=np.float32)).astype(np.float32)
np.save(path, x)
res = {"n": n, "data": path}
for name, fit in [("sklearn_pca", lambda: PCA(n_components=2, random_state=0).fit_transform(x)),
                  ("sklearn_tsne", lambda: TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto",
                                                random_state=0).fit_transform(x))]:
    t0 = time.perf_counter()
    y = fit()
    res[name] = {"seconds": time.perf_counter() - t0, "trustworthiness@10": trustworthiness(x, y, n_neighbors=10)}
try:
    import umap
    t0 = time.perf_counter()
    y = umap.UMAP(n_components=2, n_neighbors=15).fit_transform(x)
    res["umap_learn"] = {"seconds_incl_jit": time.perf_counter() - t0, "trustworthiness@10": trustworthiness(x, y, n_neighbors=10)}
except ImportError as e:
    res["umap_learn"] = repr(e)
print(json.dumps(res))
