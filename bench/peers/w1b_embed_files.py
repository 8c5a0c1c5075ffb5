#!/usr/bin/python3
"""W1b peer: embed a folder of JPEGs (one sub-folder per class) to an .npy file the way a
PyTorch user would: ImageFolder + Resize(224)/CenterCrop(224)/ToTensor/Normalize in a
DataLoader with 2 workers, batch 32, torchvision ViT-S/16 (heads = Identity) in the fastest W1
variant for the CPU: bf16 autocast where bf16 is native, else int8 dynamic quantisation of the
Linear layers (oneDNN; W1's fastest on AVX2 at batch 32). bench/run.sh times the whole command.
Usage: w1b_embed_files.py DATA_DIR OUT.npy"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.models.vision_transformer import VisionTransformer

from common import log, setup_threads


def main():
    data, out = sys.argv[1], sys.argv[2]
    setup_threads(2)
    t0 = time.perf_counter()
    tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    loader = DataLoader(ImageFolder(data, transform=tf), batch_size=32, num_workers=2)
    torch.manual_seed(0)
    model = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=6,
                              hidden_dim=384, mlp_dim=1536).eval()
    model.heads = nn.Identity()
    flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split()
    capped = os.environ.get("DNNL_MAX_CPU_ISA", "").upper().startswith("AVX2")
    bf16 = not capped and ("avx512_bf16" in flags or "amx_bf16" in flags)
    if bf16:
        for mod in model.modules():  # see w1_embed.py: MHA fast path vs CPU autocast in 1.13
            if isinstance(mod, nn.MultiheadAttention):
                mod.train()
    else:
        engines = torch.backends.quantized.supported_engines
        torch.backends.quantized.engine = next(e for e in ("fbgemm", "onednn", "x86", "qnnpack") if e in engines)
        model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    log(f"variant: {'bf16 autocast' if bf16 else 'int8 dynamic'}")
    rows = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for x, _ in loader:
            rows.append(model(x).float().numpy())
    emb = np.concatenate(rows)
    np.save(out, emb)
    log(f"embedded {len(emb)} images in {time.perf_counter() - t0:.1f} s after imports")


if __name__ == "__main__":
    main()
