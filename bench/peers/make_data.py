#!/usr/bin/python3
"""Inputs shared by the Vitrine drivers and the peers, made once per size into OUT_DIR:
  knn_base_N.npy, knn_queries_Q.npy   unit-norm Gaussian rows (default_rng 0 / 1), 384-d
  hnsw_base_N.npy, hnsw_queries_Q.npy 100 Gaussian clusters (centres 4 N(0,1), unit noise);
                                      queries are further draws from the same mixture
  proj_N.npy                          10 Gaussian clusters, same recipe (W4)
  photos_M/<class>/<i>_<name>.jpg     M symlinks cycling over PHOTOS (W1b)
Usage: make_data.py OUT_DIR PHOTOS --knn N --queries Q --pca N --tsne N --photos M"""
import argparse
import glob
import os

import numpy as np


def clustered(n, k, seed, d=384):
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((k, d)).astype(np.float32)
    return (centres[np.arange(n) % k] + rng.standard_normal((n, d), dtype=np.float32)).astype(np.float32)


def unit(n, seed, d=384):
    x = np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def save(path, make):
    if not os.path.exists(path):
        np.save(path + ".tmp.npy", make())
        os.replace(path + ".tmp.npy", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("photos")
    ap.add_argument("--knn", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--pca", type=int, default=100_000)
    ap.add_argument("--tsne", type=int, default=10_000)
    ap.add_argument("--photos-n", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    o = lambda name: os.path.join(a.out, name)  # noqa: E731
    save(o(f"knn_base_{a.knn}.npy"), lambda: unit(a.knn, 0))
    save(o(f"knn_queries_{a.queries}.npy"), lambda: unit(a.queries, 1))
    both = None

    def hnsw(part):
        nonlocal both
        if both is None:
            both = clustered(a.knn + a.queries, 100, 2)
        return both[:a.knn] if part == "base" else both[a.knn:]
    save(o(f"hnsw_base_{a.knn}.npy"), lambda: hnsw("base"))
    save(o(f"hnsw_queries_{a.queries}.npy"), lambda: hnsw("queries"))
    for n in {a.pca, a.tsne}:
        save(o(f"proj_{n}.npy"), lambda: clustered(n, 10, 0))
    photos = sorted(glob.glob(os.path.join(a.photos, "**", "*.jpg"), recursive=True))
    tree = o(f"photos_{a.photos_n}")
    if photos and not os.path.isdir(tree):
        tmp = tree + ".tmp"
        for i in range(a.photos_n):
            src = photos[i % len(photos)]
            cls = os.path.join(tmp, os.path.basename(os.path.dirname(src)))
            os.makedirs(cls, exist_ok=True)
            os.symlink(os.path.abspath(src), os.path.join(cls, f"{i // len(photos)}_{os.path.basename(src)}"))
        os.rename(tmp, tree)


if __name__ == "__main__":
    main()
