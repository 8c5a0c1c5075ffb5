#!/usr/bin/python3
"""Table of a bench/run.sh run: per case, the median over repetitions of each side, the
ratio (Vitrine speed / peer speed: > 1 means Vitrine is faster) and the spread
((max - min) / median over repetitions), against the goals of issue 9.

Usage: report.py RESULTS.jsonl [--out RESULTS.md] [--reps N] [--slow-reps N] [--quick]
Prints the table; with --out also writes it as Markdown with the machine description and
bench/notes.md (hand-written findings: what limits each missed goal) appended."""
import argparse
import io
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from collections import OrderedDict, Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from common import cpu_model_and_flags  # noqa: E402  (bench/peers/common.py)

# (workload, case prefix) -> (goal ratio or None, goal text)
GOALS = [
    ("W0", "", None, "reference"),
    ("W1", "", 1.5, ">= 1.5x best peer, cosine >= 0.99"),
    ("W1b", "", 1.5, ">= 1.5x"),
    ("W2", "", 1.2, ">= 1.2x faster peer variant"),
    ("W3", "exact", 1.0, ">= 1.0x FAISS flat"),
    ("W3", "hnsw M16 build", None, "reported"),
    ("W3", "hnsw M16 search", 1.0, ">= 1.0x at recall@10 >= 0.95"),
    ("W4", "pca", 1.0, ">= 1.0x"),
    ("W4", "tsne", 3.0, ">= 3x, trust >= peer - 0.02"),
    ("W4", "umap", 1.0, ">= 1.0x, trust >= peer - 0.02"),
    ("W5", "", 2.0, ">= 2x"),
    ("W8", "", None, "10,000 images <= 5 s on 2 cores"),
]


def goal_for(w, case):
    for gw, prefix, ratio, text in GOALS:
        if gw == w and case.startswith(prefix):
            return ratio, text
    return None, ""


def spread(v):
    m = statistics.median(v)
    return 100.0 * (max(v) - min(v)) / m if len(v) > 1 and m else 0.0


def fmt(x, unit):
    if x is None:
        return "—"
    if unit == "s":
        return f"{x:.2f} s"
    return f"{x:,.0f} {unit}" if x >= 100 else f"{x:.3g} {unit}"


def load(path):
    groups = OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                groups.setdefault((r["workload"], r["case"]), []).append(r)
    return groups


def common(recs, key):
    vals = [r[key] for r in recs if key in r]
    if not vals:
        return None
    if isinstance(vals[0], (int, float)):
        return statistics.median(vals)
    return Counter(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v for v in vals).most_common(1)[0][0]


def rows(groups):
    w0_bf16 = {}
    for (w, case), recs in groups.items():
        if w == "W0" and "bf16" in case:
            for side in ("vitrine", "peer"):
                v = [r["value"] for r in recs if r["side"] == side]
                if v:
                    w0_bf16[side] = max(w0_bf16.get(side, 0), statistics.median(v))
    out = []
    for (w, case), recs in groups.items():
        v = [r for r in recs if r["side"] == "vitrine"]
        p = [r for r in recs if r["side"] == "peer"]
        unit = recs[0]["unit"]
        hib = recs[0]["higher_is_better"]
        vm = statistics.median([r["value"] for r in v]) if v else None
        pm = statistics.median([r["value"] for r in p]) if p else None
        ratio = None
        if vm and pm:
            ratio = vm / pm if hib else pm / vm
        goal, goal_text = goal_for(w, case)
        notes = []
        vv, pv = common(v, "variant"), common(p, "variant")
        if vv and pv:
            notes.append(f"Vitrine {vv} vs peer {pv}")
        elif vv or pv:
            notes.append(f"{'Vitrine' if vv else 'peer'} {vv or pv}")
        cos = common(v, "min_cosine_vs_fp32")
        if cos is None:
            cos = common(v, "min_cosine_bf16_vs_fp32")  # records from before int8
        if cos is not None and w == "W1":
            notes.append(f"min cosine to fp32 {cos:.4f}")
        for side, rr in (("Vitrine", v), ("peer", p)):
            ag = common(rr, "achieved_gflops")
            if ag is not None and w0_bf16.get("vitrine"):
                notes.append(f"{side} {ag:.0f} GFLOP/s = {100 * ag / w0_bf16['vitrine']:.0f}% of W0 bf16")
        tv, tp = common(v, "trustworthiness@10"), common(p, "trustworthiness@10")
        if tv is not None or tp is not None:
            notes.append("trust@10 " + " vs ".join(f"{t:.3f}" if t is not None else "—" for t in (tv, tp)))
        rv, rp = common(v, "recall@10"), common(p, "recall@10")
        if rv is not None or rp is not None:
            notes.append("recall@10 " + " vs ".join(f"{t:.3f}" if t is not None else "—" for t in (rv, rp)))
        te, tq = common(p, "tuned_ef"), common(p, "tuned_queries_per_s")
        if te is not None and tq is not None:
            # The goal is speed at recall >= 0.95, so the peer's figure is hnswlib at the
            # smallest ef of its sweep that reaches it (Vitrine picks its ef by a probe).
            tqs = [r.get("tuned_queries_per_s") for r in p if r.get("tuned_queries_per_s")]
            pm = statistics.median(tqs)
            ratio = vm / pm if vm and pm else None
            notes.append(f"peer = hnswlib at its smallest ef with recall >= 0.95 ({te:.0f}); "
                         f"at ef {common(p, 'ef') or 128} it gives {statistics.median([r['value'] for r in p]):,.0f} q/s")
            ve = common(v, "ef")
            if ve is not None:
                notes.append(f"Vitrine's probed ef {ve:.0f}")
        ld = common(v, "max_loss_diff_bf16_vs_fp32")
        if ld is not None:
            notes.append(f"loss bf16-fp32 max diff {ld:.4f}")
        if w == "W5":
            pvars = [r.get("variants", {}).get("opencv_area") for r in p]
            pvars = [x for x in pvars if x]
            if pvars:
                notes.append(f"OpenCV INTER_AREA peer {statistics.median(pvars):.0f} img/s")
        met = ""
        if goal is not None and ratio is not None:
            ok = ratio >= goal
            if w == "W1" and cos is not None:
                ok = ok and cos >= 0.99
            if w == "W3" and rv is not None:
                ok = ok and rv >= 0.95
            if w == "W4" and tv is not None and tp is not None:
                ok = ok and tv >= tp - 0.02
            met = "met" if ok else "**missed**"
        elif goal is None:
            met = "—"
        out.append(dict(workload=w, case=case, unit=unit, vitrine=vm, peer=pm, ratio=ratio,
                        vs=spread([r["value"] for r in v]) if v else None,
                        ps=spread([r["value"] for r in p]) if p else None,
                        n=(len(v), len(p)), goal=goal_text, met=met, notes="; ".join(notes)))
    return out


def table(rs, quick):
    lines = ["| id | workload | Vitrine median | peer median | ratio | spread V / P | runs | goal | | notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rs:
        ratio = f"**{r['ratio']:.2f}×**" if r["ratio"] is not None else "—"
        sp = " / ".join(f"{x:.0f}%" if x is not None else "—" for x in (r["vs"], r["ps"]))
        lines.append(f"| {r['workload']} | {r['case']} | {fmt(r['vitrine'], r['unit'])} | {fmt(r['peer'], r['unit'])} "
                     f"| {ratio} | {sp} | {r['n'][0]}+{r['n'][1]} | {r['goal']} | {r['met']} | {r['notes']} |")
    lines.append("| W6 | GUI: event-loop stall, map frame time, cold start | — | — | — | — | — | ≤ 50 ms; ≤ 16 ms; ≤ 1.5 s "
                 "| — | not measured by this harness: see closing note |")
    return "\n".join(lines)


def machine(reps, slow_reps, quick):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip() or "?"
        except Exception:  # noqa
            return "?"

    def pyver(mod):
        return sh(f"/usr/bin/python3 -c 'import {mod}; print({mod}.__version__)' 2>/dev/null")
    model = sh("lscpu | sed -n 's/^Model name: *//p'")
    cpu_model = sh("lscpu | sed -n 's/^Model: *//p'")
    family = sh("lscpu | sed -n 's/^CPU family: *//p'")
    flags = sh("grep -o -w -e avx2 -e avx512f -e avx512_vnni -e amx_bf16 -e avx512_bf16 /proc/cpuinfo | sort -u | tr '\\n' ' '")
    mem = sh("free -g | awk '/Mem:/ {print $2}'")
    load = sh("cut -d' ' -f1-3 /proc/loadavg")
    commit = sh(f"git -C {os.path.dirname(os.path.abspath(__file__))} rev-parse --short HEAD")
    hnsw = sh("dpkg-query -W -f='${Version}' python3-hnswlib")
    return "\n".join([
        f"- Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; commit {commit}",
        f"- CPU: {model} (family {family}, model {cpu_model}), "
        f"{os.cpu_count()} cores; {flags.strip()}",
        f"- Memory: {mem} GiB; load average when the report was written: {load}",
        *([f"- **Emulated AVX2-only CPU** (`bench/run.sh --isa avx2`): DNNL_MAX_CPU_ISA={os.environ['DNNL_MAX_CPU_ISA']}, "
           f"ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', 'unset')} on both sides: oneDNN, ATen's "
           "vector kernels and OpenBLAS use AVX2 code only, so no AVX-512, VNNI or native bf16; bf16 variants "
           "are not available to either side (oneDNN has no AVX2 bf16 kernels; a real AVX2 CPU would emulate them, "
           "~30x slower)"] if os.environ.get("DNNL_MAX_CPU_ISA") else []),
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')} on both sides (Vitrine's programs choose it "
        "for the CPU themselves; bench/run.sh exports the same for the peers); 2 compute threads on both sides "
        "(torch.set_num_threads(2) / setComputeThreads(2)); W5 one thread",
        f"- Peers: Debian /usr/bin/python3 with torch {pyver('torch')}, torchvision {pyver('torchvision')}, "
        f"faiss {pyver('faiss')}, scikit-learn {pyver('sklearn')}, hnswlib {hnsw}, umap-learn {pyver('umap')}",
        f"- Repetitions: {reps} per side (hnsw, t-SNE, UMAP: {slow_reps}), Vitrine and peer alternating, "
        "the order flipped every repetition" + (" — **quick run with small sizes: not a result**" if quick else ""),
    ])


SECTION_MARK = "<!-- cpu-family: "


def cpu_family_key():
    """'AMD EPYC (family 25, model 17) · AVX-512 · AVX512_BF16 (no AMX)': the CPU generation
    (cloud CPUs often report a bare 'AMD EPYC' for Zen 4 and Zen 5 alike) and what decides
    precision and kernels."""
    model, flags = cpu_model_and_flags()
    ids = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() in ("cpu family", "model") and k.strip() not in ids:
                    ids[k.strip()] = v.strip()
                if len(ids) == 2:
                    break
    except OSError:
        pass
    model = f"{model} (family {ids.get('cpu family', '?')}, model {ids.get('model', '?')})"
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    bf16 = "AMX-BF16" if "amx_bf16" in flags else "AVX512_BF16 (no AMX)" if "avx512_bf16" in flags else "no native bf16"
    cap = os.environ.get("DNNL_MAX_CPU_ISA", "")
    if cap.upper().startswith("AVX2"):
        # bench/run.sh --isa avx2: an AVX2-only CPU emulated on this one (oneDNN, ATen and
        # OpenBLAS all capped to AVX2); its own section, never mixed with the uncapped one.
        return f"{model} capped to AVX2 (emulated AVX2-only CPU) · AVX2 · no native bf16"
    return f"{model} · {isa} · {bf16}"


def read_sections(path):
    """The sections of an existing RESULTS.md by CPU family; a file from before sections is one legacy section."""
    if not os.path.exists(path):
        return {}
    text = open(path).read()
    if SECTION_MARK not in text:
        legacy = text.split("\n", 1)[1] if text.startswith("# ") else text
        legacy = legacy.replace("\n## ", "\n### ")
        return {"Intel(R) Xeon(R) Processor (Sapphire Rapids) · AVX-512 · AMX-BF16": "## Intel(R) Xeon(R) Processor "
                "(Sapphire Rapids) · AVX-512 · AMX-BF16\n" + legacy.strip() + "\n"}
    out = {}
    for chunk in text.split(SECTION_MARK)[1:]:
        k, body = chunk.split(" -->\n", 1)
        out[k] = body.rstrip() + "\n"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("--out")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--slow-reps", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rs = rows(load(args.results))
    t = table(rs, args.quick)
    print(t)
    if not args.out:
        return
    notes_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    notes = open(notes_path).read() if os.path.exists(notes_path) else ""
    missed = [f"- {r['workload']} {r['case']}: ratio {r['ratio']:.2f}× (goal {r['goal']})"
              for r in rs if r["met"] == "**missed**"]
    # One section per CPU family: a run replaces its own family's section and keeps the others
    # (the machines change from one day to the next; every claim says which CPU it holds on).
    key = cpu_family_key()
    body = io.StringIO()
    body.write(f"## {key}\n\nProduced by `bench/run.sh" + (" --quick" if args.quick else "") +
               "` (raw JSON lines: `" + os.path.relpath(args.results, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) +
               "`).\n\n### Machine\n\n")
    body.write(machine(args.reps, args.slow_reps, args.quick) + "\n\n### Results\n\n" + t + "\n\n")
    body.write("### Goals missed in this run\n\n" + ("\n".join(missed) if missed else "None.") + "\n\n")
    if notes:
        body.write(notes.rstrip().replace("\n## ", "\n#### ").replace("\n# ", "\n### ") + "\n")
    sections = read_sections(args.out) if not args.quick else {}
    sections[key] = body.getvalue().rstrip() + "\n"
    with open(args.out, "w") as f:
        f.write("# Benchmark results\n\nRatios are Vitrine speed / peer speed (> 1: Vitrine faster; for times, peer time / "
                "Vitrine time), medians over repetitions measured side by side in the same run; the machine is shared, "
                "so quote ratios, not absolute figures. Spread = (max − min) / median over repetitions. One section per "
                "CPU family measured; a new run replaces its family's section.\n\n")
        for k in sorted(sections, key=lambda k: (k != key, k)):
            f.write(f"{SECTION_MARK}{k} -->\n" + sections[k] + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
