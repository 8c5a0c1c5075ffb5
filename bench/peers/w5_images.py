#!/usr/bin/python3
"""W5 peer: decode + Resize(224) + CenterCrop(224) + ToTensor + Normalize of JPEG files on one
thread with PIL and torchvision transforms (what Vitrine's loadPreprocessed computes).
Files: the first N *.jpg under DIR in sorted path order. One warm-up pass, then PASSES passes.
Also measured, not the goal's peer: an OpenCV pipeline (INTER_AREA, closest to PIL's filter).
Usage: w5_images.py DIR [--n 500] [--passes 3]"""
import argparse
import glob
import os

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

from common import emit, median, time_blocks

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = sorted(glob.glob(os.path.join(args.dir, "**", "*.jpg"), recursive=True))[:args.n]
    tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)])

    def tv_pil():
        for f in files:
            tf(Image.open(f).convert("RGB"))
    rates = {"pil_torchvision": median([len(files) / s for s in time_blocks(tv_pil, args.passes)])}
    try:
        import cv2
        cv2.setNumThreads(1)
        mean, std = np.array(MEAN, np.float32), np.array(STD, np.float32)

        def cv():
            for f in files:
                img = cv2.cvtColor(cv2.imread(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                h, w = img.shape[:2]
                s = 224 / min(h, w)
                nw, nh = max(224, round(w * s)), max(224, round(h * s))
                img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
                top, left = (nh - 224) // 2, (nw - 224) // 2
                x = (img[top:top + 224, left:left + 224].astype(np.float32) / 255.0 - mean) / std
                torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
        rates["opencv_area"] = median([len(files) / s for s in time_blocks(cv, args.passes)])
    except ImportError:
        pass
    emit("W5", f"preprocess {len(files)} JPEGs 1 thread", rates["pil_torchvision"], "images/s", True,
         variant="pil_torchvision", variants=rates)


if __name__ == "__main__":
    main()
