#!/usr/bin/python3
"""Regenerates the seed corpora under tests/fuzz/corpus/<target>/: small valid inputs and
slightly broken variants of each, so the fuzzers start from the formats' interesting parts.
Run with Debian's /usr/bin/python3 (numpy, python3-pil). Deterministic; keep it small
(libFuzzer's default max input length is the largest seed)."""
import io
import json
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
CORPUS = os.path.join(HERE, "corpus")


def target(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)

    def put(fname, data):
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return put


def safetensors(tensors, metadata=None, header_override=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header, data, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    text = header_override if header_override is not None else json.dumps(header, separators=(",", ":"))
    text = text.encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


f32 = lambda a: np.asarray(a, np.float32).tobytes()
f64 = lambda a: np.asarray(a, np.float64).tobytes()

# ---- safetensors (strict header reader)
put = target("fuzz_safetensors")
valid = safetensors([("a", "F32", [2, 3], f32(np.arange(6))), ("b", "I64", [2], np.arange(2, dtype=np.int64).tobytes()),
                     ("c", "BF16", [1], b"\x80\x3f"), ("d", "BOOL", [0], b"")], {"format": "vitrine", "k": "v"})
put("valid.safetensors", valid)
put("empty_tensors.safetensors", safetensors([], {"only": "metadata"}))
put("scalar.safetensors", safetensors([("s", "F64", [], f64([1.5]))]))
put("truncated.safetensors", valid[:-5])
put("padded.safetensors", valid + b"\0\0\0\0")
put("short.safetensors", b"\x05\0\0\0")
put("huge_len.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
put("not_json.safetensors", safetensors([], header_override="{\"a\": [1, 2"))
put("dup.safetensors", safetensors([], header_override='{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                                      '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}') + b"x")
put("gap.safetensors", safetensors([], header_override='{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}') + b"xx")
put("overlap.safetensors", safetensors([], header_override='{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                                          '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}') + b"xxx")
put("overflow.safetensors", safetensors([], header_override='{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],'
                                                           '"data_offsets":[0,0]}}'))
put("bad_dtype.safetensors", safetensors([], header_override='{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}') + b"x")
with open(os.path.join(FIXTURES, "model", "preprocess_45x30.safetensors"), "rb") as f:
    put("fixture_preprocess.safetensors", f.read())

# ---- safetensors matrices (the embeddings/export reader)
put = target("fuzz_safetensors_matrices")
rows = json.dumps({"columns": ["path", "label"], "rows": [["a.jpg", "cat"], ["b.jpg", "dog"]]})
put("embeddings.safetensors", safetensors([("embeddings", "F32", [2, 3], f32(np.arange(6))),
                                           ("coords", "F32", [2, 2], f32(np.arange(4)))], {"rows": rows}))
put("f64_1d.safetensors", safetensors([("v", "F64", [3], f64([1, 2, 3]))]))
put("skipped_dtype.safetensors", safetensors([("i", "I32", [2], np.arange(2, dtype=np.int32).tobytes()),
                                              ("e", "F32", [1, 1], f32([7]))]))
put("empty.safetensors", safetensors([("e", "F32", [0, 4], b"")]))
put("bad_size.safetensors", safetensors([], header_override='{"e":{"dtype":"F32","shape":[2,2],"data_offsets":[0,4]}}') + b"abcd")
put("neg_shape.safetensors", safetensors([], header_override='{"e":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,4]}}') + b"abcd")
put("truncated.safetensors", safetensors([("embeddings", "F32", [2, 3], f32(np.arange(6)))])[:-3])
put("meta_not_strings.safetensors", safetensors([], header_override='{"__metadata__":{"rows":7,"x":[1]}}'))

# ---- images: the decoder's odd-but-valid fixtures plus broken ones
put = target("fuzz_image")
for name in sorted(os.listdir(os.path.join(FIXTURES, "images"))):
    with open(os.path.join(FIXTURES, "images", name), "rb") as f:
        put(name, f.read())


def png_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, "PNG", **kw)
    return b.getvalue()


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xffffffff)


rng = np.random.default_rng(8)
small = Image.fromarray(rng.integers(0, 255, (6, 5, 3), dtype=np.uint8), "RGB")
b = io.BytesIO()
small.save(b, "JPEG", quality=80)
jpeg = b.getvalue()
put("small.jpg", jpeg)
put("half.jpg", jpeg[: len(jpeg) // 2])
b = io.BytesIO()
small.save(b, "JPEG", quality=80, progressive=True)
put("progressive.jpg", b.getvalue())
b = io.BytesIO()
small.save(b, "GIF")
put("small.gif", b.getvalue())
png = png_bytes(small)
put("small.png", png)
put("png_random_body.png", png[:8] + bytes(rng.integers(0, 256, 64, dtype=np.uint8)))
put("png_30000x30000.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)) +
    chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
put("png_2000000x1.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2000000, 1, 8, 0, 0, 0, 0)) +
    chunk(b"IEND", b""))
put("page.jpg", b"<!DOCTYPE html><html><body>not found</body></html>\n")
put("empty.jpg", b"")

# ---- .npy
put = target("fuzz_npy")


def npy(a, **kw):
    b = io.BytesIO()
    np.lib.format.write_array(b, a, **kw)
    return b.getvalue()


put("f32_2x3.npy", npy(np.arange(6, dtype=np.float32).reshape(2, 3)))
put("f64_4.npy", npy(np.arange(4, dtype=np.float64)))
put("fortran.npy", npy(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(3, 2))))
put("v2.npy", npy(np.ones((1, 2), np.float32), version=(2, 0)))
put("empty_0x5.npy", npy(np.zeros((0, 5), np.float32)))
put("int.npy", npy(np.arange(3, dtype=np.int32)))
put("3d.npy", npy(np.zeros((1, 1, 2), np.float32)))
put("truncated.npy", npy(np.arange(6, dtype=np.float32).reshape(2, 3))[:-4])
put("bad_magic.npy", b"\x93NUMPX\x01\x00\x10\x00{'descr': '<f4'}")

# ---- rows sidecar TSV and CSV (the same target runs both parsers on every input)
put = target("fuzz_row_table")
put("rows.tsv", "path\tlabel\tsplit\ncat/a b.jpg\tcat\ttrain\ndog/\\tq\\n.jpg\tdog\tvalidation\n")
put("crlf.tsv", "path\tlabel\r\nx.jpg\tcat\r\n\r\n")
put("bad_count.tsv", "path\tlabel\nx.jpg\n")
put("no_path.tsv", "file\tlabel\nx\ty\n")
put("export.csv", 'path,label,x,y,e0,e1\n"a,b.jpg",cat,0.5,1,0.25,-1e3\n"q""uote.jpg","dog\nline",1,2,3,4\n')
put("unterminated.csv", 'path,label\n"abc,def\n')
put("unicode.csv", "path,label\nкошка/猫 1.jpg,cat\n")

# ---- checkpoint __metadata__ (JSON object of strings, as stored in a safetensors header)
put = target("fuzz_checkpoint_metadata")
config = {"name": "vit-micro", "image_size": 64, "patch_size": 8, "in_channels": 3, "dim": 64, "depth": 2,
          "heads": 2, "mlp_ratio": 4.0, "embed_dim": 32, "layer_norm_eps": 1e-6}
training = {"step": 40, "epoch": 2, "seed": 7, "optimizer": "adamw",
            "optimizer_steps": {"head.weight": 40, "blocks.1.mlp.fc1.weight": 12}, "learning_rate": 3e-4}
put("checkpoint.json", json.dumps({"format": "vitrine-1", "config": json.dumps(config),
                                   "training": json.dumps(training), "class_names": json.dumps(["cat", "dog"])}))
put("config_only.json", json.dumps({"format": "vitrine-1", "config": json.dumps(config)}))
put("bad_types.json", json.dumps({"config": json.dumps(dict(config, dim="64")),
                                  "training": json.dumps({"step": "forty", "seed": -1, "optimizer_steps": [1]})}))
put("big_ints.json", json.dumps({"config": json.dumps(dict(config, image_size=2 ** 32 + 64)),
                                 "training": json.dumps({"step": 2 ** 63, "seed": 2 ** 64 - 1})}))
put("training_not_object.json", json.dumps({"training": "[1,2]"}))

total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(CORPUS) for f in fs)
print(f"corpus: {total} bytes")
