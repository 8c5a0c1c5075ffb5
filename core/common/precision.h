#pragma once
// Which arithmetic the model runs in, chosen at run time from the CPU it runs on.
//
// bfloat16 autocast is the fast path only where the hardware multiplies bf16 natively
// (AVX512_BF16, AMX-BF16); elsewhere every bf16 matmul is emulated and runs ~30x slower
// than float32. `Precision::Auto` therefore resolves to bf16 only when the CPU has native
// bf16 *and* a short probe (a ViT-sized GEMM, timed both ways) confirms it is faster.
// Torch-free header: the UI, the CLI and the benchmarks include it.
//
// Intended usage:
//   const Precision p = resolvePrecision(Precision::Auto);   // probe once, cached
//   AutocastScope autocast(p);                               // (precision_scope.h, torch)
//   std::cout << computeSummary();                           // CPU, choice, kernels, threads

#include <optional>
#include <string>

namespace vitrine::core {

enum class Precision {
    Auto, ///< resolve with resolvePrecision(): bf16 where native and measured faster, else fp32
    Fp32, ///< float32 throughout
    Bf16, ///< bfloat16 autocast for matmuls/convolutions; residual stream, loss and outputs float32
    /// int8 transformer blocks (core/model/int8_gemm.h): every Linear layer an integer GEMM on
    /// activations quantised per token and weights per output channel, LayerNorm, GELU and the
    /// residual adds fused into the (de)quantisation; attention, patch embedding and head float32.
    /// Inference only (embed, eval, the window's map): with gradients on it runs float32.
    Int8,
};

/// "auto", "fp32"/"float32", "bf16"/"bfloat16", "int8"; throws core::Error naming the choices otherwise.
Precision parsePrecision(const std::string& name);
/// "auto", "fp32", "bf16" or "int8".
const char* precisionName(Precision p);

/// What the CPU can do, read from /proc/cpuinfo (model name, flags) at run time.
struct CpuFeatures {
    std::string model; ///< "AMD EPYC 9R14", "Intel(R) Xeon(R) Platinum 8488C", ...
    bool avx2 = false;
    bool fma = false;
    bool avx512f = false;
    bool avx512bf16 = false; ///< AVX512_BF16: native bf16 dot products
    bool amxBf16 = false;    ///< AMX tiles with bf16
    bool amxInt8 = false;
    bool avx512vnni = false;
    std::string capped; ///< the oneDNN ISA cap applied ("" = none)
    bool nativeBf16() const { return avx512bf16 || amxBf16; }
    /// "AVX2 FMA AVX512F AVX512_BF16 AMX_BF16" (only those present).
    std::string flagsString() const;
};

/// Parses /proc/cpuinfo text (model name and flags of the first processor).
CpuFeatures parseCpuInfo(const std::string& procCpuinfo);
/// The features left once oneDNN is capped to an instruction set (`DNNL_MAX_CPU_ISA` /
/// `ONEDNN_MAX_CPU_ISA`: SSE41, AVX, AVX2, AVX2_VNNI, AVX512_CORE, AVX512_CORE_VNNI,
/// AVX512_CORE_BF16, AVX512_CORE_AMX, ALL): a cap below bf16 removes native bf16, one below
/// AVX-512 removes AVX-512. Unknown or empty caps change nothing. `capped` names the cap.
CpuFeatures applyIsaCap(CpuFeatures cpu, const std::string& cap);
/// The running machine's features (read once, cached), with the environment's oneDNN cap
/// applied (a cap there makes the machine behave as an older CPU, which is how an AVX2-only
/// CPU is measured on a newer one).
const CpuFeatures& cpuFeatures();

/// The decision, separated from the measurement so both branches are testable anywhere:
/// bf16 only when the CPU multiplies bf16 natively and the probe measured bf16 at least
/// 1.15x faster than float32 (`bf16Speedup` = fp32 time / bf16 time; nullopt = not probed,
/// which never picks bf16). This is the choice for training (gradients on).
Precision choosePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup);

/// The choice for inference (embedding without gradients), where int8 Linear layers are a
/// candidate too: bf16 as choosePrecision decides, and int8 only where it measured at least
/// 1.15x faster than that choice (bf16's bar; int8 is then checked on real data) and for models at least
/// kInt8MinWidth wide (`modelWidth`; 0 = unknown, taken as wide). Measured with the per-token
/// int8 blocks, images/s against the best other precision: ViT-Ti/16 (width 192) 1.4x bf16 at
/// batch 32 and 2x at batch 1 on an AMD EPYC Zen 5 (VNNI); capped to AVX2 there, 1.8x float32 at
/// batch 32 and 1.0x at batch 1. Narrower models were not measured: float32 for them.
/// `int8Speedup` = fp32 time / int8 time on the probe (ViT-S width); nullopt = not probed or
/// unavailable. The embedder still checks int8 on the first batch of real data and falls back
/// to float32 there when its embeddings are not within cosine 0.99 of float32
/// (EmbedSummary::int8MinCosine).
Precision chooseInferencePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup,
                                   std::optional<double> int8Speedup, int modelWidth = 0);
inline constexpr int kInt8MinWidth = 192;

/// Auto -> the machine's choice for training (probe run once per machine, ~1 s, then read
/// from a cache file; $VITRINE_PRECISION=fp32|bf16 overrides it; an override of int8 means
/// float32 here, as int8 has no gradients). Fp32/Bf16 returned as they are; Int8 -> Fp32.
Precision resolvePrecision(Precision requested);

/// Auto -> the machine's choice for inference of a model `modelWidth` wide (0 = unknown)
/// (chooseInferencePrecision over the same probe; $VITRINE_PRECISION=fp32|bf16|int8 overrides
/// it). Others returned as they are.
Precision resolveInferencePrecision(Precision requested, int modelWidth = 0);

/// What the probe measures (defined in core/model/precision_probe.cpp, which has the model):
/// the real model path timed in float32 and in each candidate, fp32 time / candidate time;
/// nullopt for a candidate not timed. Callable inside InferenceMode.
struct ProbeSpeedups {
    std::optional<double> bf16, int8;
};
ProbeSpeedups measurePrecisionSpeedups(bool bf16, bool int8);

/// The probe's measured fp32/bf16 speed ratio on this machine (runs it when not yet run;
/// nullopt on CPUs without native bf16, where bf16 is not timed).
std::optional<double> bf16ProbeSpeedup();
/// The same for int8 Linear layers (nullopt where the oneDNN quantised engine is missing).
std::optional<double> int8ProbeSpeedup();

/// Whether those figures came from the per-machine cache
/// ($XDG_CACHE_HOME/vitrine/precision-probe.json, keyed by CPU, threads and LibTorch version)
/// rather than a measurement in this process.
bool bf16ProbeCached();

/// Whether Precision::Int8 can run: oneDNN's integer GEMM works here (checked once).
bool int8Available();

/// Whether the current thread's ViT forward passes run their Linear layers in int8 (set by
/// AutocastScope(Precision::Int8); only honoured where gradients are off).
bool int8LinearsEnabled();
/// Sets it for the current thread; returns the previous value (AutocastScope restores it).
bool setInt8LinearsEnabled(bool on);

/// The kernels and threading: "OpenBLAS <OPENBLAS_CORETYPE or its own choice> + oneDNN, OpenMP
/// <OMP_WAIT_POLICY>[ spin <GOMP_SPINCOUNT>]".
std::string kernelSummary();

/// One line for the status bar, `--version`, `vitrine-cli info` and benchmark records:
/// "AMD EPYC 9R14 · AVX2 FMA AVX512F AVX512_BF16 · auto → bf16, inference bf16 (probe bf16 1.6×,
/// int8 1.3×) · OpenBLAS SKYLAKEX + oneDNN · 2 threads". `measure` = false never runs the
/// probe (the window's first embedding must not wait ~1 s for it): where its figures are not
/// known yet (not run in this process, not in the cache file) the line says so instead.
std::string computeSummary(bool measure = true);

} // namespace vitrine::core
