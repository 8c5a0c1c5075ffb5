"""Shared by the peer scripts: thread set-up, timing and the one-JSON-line-per-case output
that bench/report.py reads (the same format as the Vitrine drivers print)."""
import json
import os
import statistics
import sys
import time


def setup_threads(n=2):
    """torch / faiss intra-op threads; call before the first heavy op."""
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    import torch
    torch.set_num_threads(n)
    try:
        import faiss
        faiss.omp_set_num_threads(n)
    except ImportError:
        pass


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def time_blocks(fn, blocks, inner=1, warmup=1):
    """Seconds per call for `blocks` timed blocks of `inner` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t0) / inner)
    return out


def median(v):
    return statistics.median(v)


def cpu_model_and_flags():
    """The CPU's model name and its set of flags, from /proc/cpuinfo ("?" and an empty set
    where it cannot be read). bench/report.py reads the CPU through this too."""
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return model, flags


def cpu_summary():
    """'AMD EPYC · avx2 avx512f avx512_bf16 · DNNL_MAX_CPU_ISA=AVX2': the CPU a record holds on."""
    model, have = cpu_model_and_flags()
    flags = [x for x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8") if x in have]
    cap = os.environ.get("DNNL_MAX_CPU_ISA")
    return " · ".join([model, " ".join(flags)] + ([f"DNNL_MAX_CPU_ISA={cap}"] if cap else []))


def emit(workload, case, value, unit, higher_is_better, **extra):
    rec = dict(extra, workload=workload, case=case, side="peer", value=value, unit=unit,
               higher_is_better=higher_is_better,
               openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"), cpu=cpu_summary())
    if "torch" in sys.modules:
        rec["torch_threads"] = sys.modules["torch"].get_num_threads()
    print(json.dumps(rec), flush=True)


def best(variants):
    """(name, value) of the fastest variant of a {name: images_per_s or None} dict."""
    ok = {k: v for k, v in variants.items() if v is not None}
    name = max(ok, key=ok.get)
    return name, ok[name]
