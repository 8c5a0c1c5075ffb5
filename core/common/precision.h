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
};

/// "auto", "fp32"/"float32", "bf16"/"bfloat16"; throws core::Error naming the choices otherwise.
Precision parsePrecision(const std::string& name);
/// "auto", "fp32" or "bf16".
const char* precisionName(Precision p);

/// What the CPU can do, read from /proc/cpuinfo (model name, flags) at run time.
struct CpuFeatures {
    std::string model;       ///< "AMD EPYC 9R14", "Intel(R) Xeon(R) Platinum 8488C", ...
    bool avx2 = false;
    bool fma = false;
    bool avx512f = false;
    bool avx512bf16 = false; ///< AVX512_BF16: native bf16 dot products
    bool amxBf16 = false;    ///< AMX tiles with bf16
    bool amxInt8 = false;
    bool avx512vnni = false;
    bool nativeBf16() const { return avx512bf16 || amxBf16; }
    /// "AVX2 FMA AVX512F AVX512_BF16 AMX_BF16" (only those present).
    std::string flagsString() const;
};

/// Parses /proc/cpuinfo text (model name and flags of the first processor).
CpuFeatures parseCpuInfo(const std::string& procCpuinfo);
/// The running machine's features (read once, cached).
const CpuFeatures& cpuFeatures();

/// The decision, separated from the measurement so both branches are testable anywhere:
/// bf16 only when the CPU multiplies bf16 natively and the probe measured bf16 at least
/// 1.15x faster than float32 (`bf16Speedup` = fp32 time / bf16 time; nullopt = not probed,
/// which never picks bf16).
Precision choosePrecision(const CpuFeatures& cpu, std::optional<double> bf16Speedup);

/// Auto -> the machine's choice (probe run once per machine, ~0.3 s, only on native-bf16
/// CPUs, then read from a cache file; $VITRINE_PRECISION=fp32|bf16 overrides it);
/// Fp32/Bf16 returned as they are.
Precision resolvePrecision(Precision requested);

/// The probe's measured fp32/bf16 speed ratio on this machine (runs it when not yet run;
/// nullopt on CPUs without native bf16, where it is not run).
std::optional<double> bf16ProbeSpeedup();

/// Whether that figure came from the per-machine cache ($XDG_CACHE_HOME/vitrine/bf16-probe.json,
/// keyed by CPU, threads and LibTorch version) rather than a measurement in this process.
bool bf16ProbeCached();

/// The BLAS kernel family: "OpenBLAS <OPENBLAS_CORETYPE or its own choice> + oneDNN".
std::string kernelSummary();

/// One line for the status bar, `--version`, `vitrine-cli info` and benchmark records:
/// "AMD EPYC 9R14 · AVX2 FMA AVX512F AVX512_BF16 · auto → bf16 (probe 1.6×) · OpenBLAS SKYLAKEX + oneDNN · 2 threads".
std::string computeSummary();

} // namespace vitrine::core
