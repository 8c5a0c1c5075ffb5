#!/usr/bin/python3
"""W2 peer: triplet training steps of torchvision ViT-Ti/16 (hidden 192, 12 layers, 3 heads,
MLP 768) at 224 or 112, head Linear(192, 128), F.normalize; one fixed P x K batch of
torch.randn images; batch-hard euclidean triplet loss, margin 0.2; AdamW lr 1e-4.
fp32, and bf16 = forward + loss under torch.autocast('cpu', bfloat16). One warm-up step.
Usage: w2_train.py [--sizes 224,112] [--p 8] [--k 8] [--steps 3] [--fp32-steps 2]"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.vision_transformer import VisionTransformer

from common import best, emit, median, setup_threads, time_blocks


def batch_hard(emb, labels, margin=0.2):
    sq = (emb * emb).sum(1)
    d = (sq[:, None] + sq[None, :] - 2.0 * emb @ emb.t()).clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    d_ap = d.masked_fill(~pos, float("-inf")).amax(1)
    d_an = d.masked_fill(same, float("inf")).amin(1)
    return F.relu(d_ap - d_an + margin).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="224,112")
    ap.add_argument("--p", type=int, default=8)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--fp32-steps", type=int, default=2)
    args = ap.parse_args()
    setup_threads(2)
    P, K = args.p, args.k
    for size in map(int, args.sizes.split(",")):
        x = torch.randn(P * K, 3, size, size, generator=torch.Generator().manual_seed(1))
        labels = torch.arange(P).repeat_interleave(K)
        rates, losses = {}, {}
        for prec in ("bf16_autocast", "fp32"):
            steps = args.steps if prec.startswith("bf16") else args.fp32_steps
            if steps <= 0:
                continue
            torch.manual_seed(0)
            model = VisionTransformer(image_size=size, patch_size=16, num_layers=12, num_heads=3,
                                      hidden_dim=192, mlp_dim=768)
            model.heads = nn.Linear(192, 128)
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            ls = losses.setdefault(prec, [])

            def step():
                opt.zero_grad(set_to_none=True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=prec.startswith("bf16")):
                    loss = batch_hard(F.normalize(model(x).float(), dim=1), labels)
                loss.backward()
                opt.step()
                ls.append(loss.item())

            rates[prec] = median([P * K / s for s in time_blocks(step, steps)])
        name, value = best(rates)
        emit("W2", f"vit-tiny-16 s{size} P{P}xK{K}", value, "images/s", True, variant=name,
             variants=rates, losses=losses)


if __name__ == "__main__":
    main()
