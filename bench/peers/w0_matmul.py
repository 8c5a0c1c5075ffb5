#!/usr/bin/python3
"""W0 peer: torch.mm on n x n float32 and bfloat16 tensors (2 n^3 FLOPs), 2 threads.
Usage: w0_matmul.py [--sizes 1024,2048] [--blocks 3] [--block-seconds 0.3]"""
import argparse
import math
import time

import torch

from common import emit, median, setup_threads, time_blocks


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--block-seconds", type=float, default=0.3)
    args = ap.parse_args()
    setup_threads(2)
    with torch.inference_mode():
        for n in map(int, args.sizes.split(",")):
            g = torch.Generator().manual_seed(0)
            a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                x, y = a.to(dtype), b.to(dtype)
                fn = lambda: torch.mm(x, y)  # noqa: E731
                fn()
                t0 = time.perf_counter(); fn(); t1 = time.perf_counter() - t0
                inner = max(1, math.ceil(args.block_seconds / max(t1, 1e-6)))
                gflops = [2.0 * n ** 3 / s / 1e9 for s in time_blocks(fn, args.blocks, inner, 0)]
                emit("W0", f"matmul {name} {n}", median(gflops), "GFLOP/s", True, blocks=gflops)


if __name__ == "__main__":
    main()
