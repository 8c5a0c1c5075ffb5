#!/usr/bin/python3
"""W1 peer: torchvision VisionTransformer forward from decoded tensors, best of
eager fp32 / jit.trace+freeze fp32 / bf16 autocast / bf16 weights / int8 dynamic quantisation
of the Linear layers (fbgemm, or oneDNN where the build has no fbgemm), under inference_mode; a variant only counts as "best" when its
embeddings stay within cosine 0.99 of eager fp32.
Models (random init, 224, patch 16, heads = Identity -> CLS embedding):
  vit-small-16: hidden 384, 12 layers, 6 heads, MLP 1536; vit-tiny-16: 192, 12, 3, 768.
A call at batch 1 is a block of 5 forward passes.
Usage: w1_embed.py [--models vit-small-16,vit-tiny-16] [--batches 32,1] [--calls 3] [--fp32-calls 1]"""
import argparse
import copy

import torch
import torch.nn as nn
from torchvision.models.vision_transformer import VisionTransformer

from common import best, emit, log, median, setup_threads, time_blocks

MODELS = {"vit-small-16": dict(hidden_dim=384, num_layers=12, num_heads=6, mlp_dim=1536),
          "vit-tiny-16": dict(hidden_dim=192, num_layers=12, num_heads=3, mlp_dim=768)}


def variant_fn(name, model, x):
    if name == "eager_fp32":
        return lambda: model(x)
    if name == "jit_freeze_fp32":
        with torch.no_grad():
            tm = torch.jit.freeze(torch.jit.trace(model, x))
        return lambda: tm(x)
    if name == "bf16_autocast":
        # torch 1.13's native MHA fast path (eval, even head count) fails under CPU autocast;
        # train() on the MHA modules takes the regular path (attention dropout is 0).
        m = copy.deepcopy(model)
        for mod in m.modules():
            if isinstance(mod, nn.MultiheadAttention):
                mod.train()

        def f():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return m(x)
        return f
    if name == "bf16_weights":
        m, xb = copy.deepcopy(model).bfloat16(), x.bfloat16()
        return lambda: m(xb)
    if name == "int8_dynamic":
        engines = torch.backends.quantized.supported_engines  # Debian's build: onednn, qnnpack (no fbgemm)
        torch.backends.quantized.engine = next(e for e in ("fbgemm", "onednn", "x86", "qnnpack") if e in engines)
        # Only the MLP's and the attention's output Linear layers: torch 1.13's MHA reads its
        # in_proj weight directly, which quantize_dynamic leaves in float.
        m = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
        return lambda: m(x)
    raise ValueError(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="vit-small-16,vit-tiny-16")
    ap.add_argument("--batches", default="32,1")
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--fp32-calls", type=int, default=1)
    ap.add_argument("--variants", default="eager_fp32,jit_freeze_fp32,bf16_autocast,bf16_weights,int8_dynamic")
    args = ap.parse_args()
    setup_threads(2)
    for mname in args.models.split(","):
        cfg = MODELS[mname]
        torch.manual_seed(0)
        model = VisionTransformer(image_size=224, patch_size=16, **cfg).eval()
        model.heads = nn.Identity()
        n, d, m = 197, cfg["hidden_dim"], cfg["mlp_dim"]
        gf = 2 * (196 * 768 * d + cfg["num_layers"] * (4 * n * d * d + 2 * n * n * d + 2 * n * d * m)) / 1e9
        for bs in map(int, args.batches.split(",")):
            x = torch.randn(bs, 3, 224, 224, generator=torch.Generator().manual_seed(1))
            rates, cos = {}, {}
            ref = None
            for v in args.variants.split(","):
                try:
                    fn = variant_fn(v, model, x)
                    out = []
                    with torch.inference_mode():
                        call = lambda: out.append(fn())  # noqa: E731
                        calls = args.fp32_calls if v.endswith("fp32") else args.calls
                        secs = time_blocks(call, calls, 5 if bs == 1 else 1, 2 if v.startswith("jit") else 1)
                    y = out[-1].float()
                    if ref is None:
                        ref = y
                    cos[v] = float(torch.nn.functional.cosine_similarity(y, ref, dim=1).min())
                    rates[v] = median([bs / s for s in secs])
                except Exception as e:  # noqa
                    log(f"{mname} b{bs} {v} failed: {e!r}")
                    rates[v] = None
            # A variant whose embeddings drift from float32 does not count as the peer's best.
            name, value = best({v: r for v, r in rates.items() if cos.get(v, 0.0) >= 0.99})
            emit("W1", f"{mname} b{bs}", value, "images/s", True, variant=name, variants=rates,
                 min_cosine_vs_eager=cos, gflops_per_image=gf, achieved_gflops=value * gf)


if __name__ == "__main__":
    main()
