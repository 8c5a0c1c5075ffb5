#!/usr/bin/python3
"""W4 peer: 2-D projections of DATA.npy (made by make_data.py: 10 Gaussian clusters in 384-d)
with library defaults on 2 cores, plus trustworthiness at k 10 (sklearn.manifold).
  pca  : sklearn PCA(n_components=2).fit_transform (one untimed fit first)
  tsne : sklearn TSNE(2, perplexity=30, init='pca', learning_rate='auto', barnes_hut)
  umap : umap.UMAP(n_components=2, n_neighbors=15); a fit on 500 rows first compiles numba,
         so the timed fit is umap's warm figure
Usage: w4_proj.py pca|tsne|umap DATA.npy [--fits 1] [--no-trust]"""
import argparse
import time

import numpy as np

from common import emit, log, median


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("method", choices=["pca", "tsne", "umap"])
    ap.add_argument("data")
    ap.add_argument("--fits", type=int, default=1)
    ap.add_argument("--no-trust", action="store_true")
    args = ap.parse_args()
    x = np.load(args.data)
    if args.method == "pca":
        from sklearn.decomposition import PCA
        make = lambda: PCA(n_components=2, random_state=0)  # noqa: E731
        make().fit_transform(x)
    elif args.method == "tsne":
        from sklearn.manifold import TSNE
        make = lambda: TSNE(n_components=2, perplexity=30, init="pca", method="barnes_hut",  # noqa: E731
                            learning_rate="auto", random_state=0)
    else:
        import umap
        make = lambda: umap.UMAP(n_components=2, n_neighbors=15)  # noqa: E731
        t0 = time.perf_counter()
        make().fit_transform(x[:500])
        log(f"umap warm-up (numba compilation) {time.perf_counter() - t0:.1f} s")
    secs = []
    for _ in range(args.fits):
        t0 = time.perf_counter()
        y = make().fit_transform(x)
        secs.append(time.perf_counter() - t0)
    extra = {"seconds": secs}
    if not args.no_trust:
        from sklearn.manifold import trustworthiness
        extra["trustworthiness@10"] = float(trustworthiness(x, y, n_neighbors=10))
    emit("W4", f"{args.method} {len(x)}x384", median(secs), "s", False,
         variant={"pca": "sklearn PCA", "tsne": "sklearn TSNE", "umap": "umap-learn"}[args.method], **extra)


if __name__ == "__main__":
    main()
