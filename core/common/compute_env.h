#pragma once
// The environment the compute libraries read once, as they load (before main() runs):
// shared by the launchers (app/launcher) and ensureFastBlas(). Header-only and free of
// LibTorch so the launchers stay tiny.

#include <cstdlib>

#include <strings.h>

namespace vitrine::core {

/// Spins (about 0.1 ms) idle OpenMP workers make before sleeping where bf16 is native.
inline constexpr const char* kBf16SpinCount = "10000";

/// The GOMP_SPINCOUNT for a CPU with or without native bf16 under a oneDNN ISA cap (null or
/// empty: none): kBf16SpinCount where bf16 is native and not capped away, else null (none).
inline const char* bf16SpinCount(bool nativeBf16, const char* isaCap) {
    if (!nativeBf16)
        return nullptr;
    if (isaCap && *isaCap) {
        for (const char* below : {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI"})
            if (::strcasecmp(isaCap, below) == 0)
                return nullptr;
    }
    return kBf16SpinCount;
}

/// Sets, where the user has not set them:
/// - OPENBLAS_CORETYPE: Debian's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and
///   falls back to SSE3 kernels (~8x slower float32 GEMM); name the closest kernel set it has.
/// - OMP_WAIT_POLICY=PASSIVE: idle OpenMP workers sleep instead of spinning, so training,
///   embedding and the GUI do not starve each other on a few cores.
/// - GOMP_SPINCOUNT=kBf16SpinCount on CPUs with native bf16 (unless capped below it): there
///   `auto` runs the models in bf16 on oneDNN, whose many short OpenMP regions per image lose
///   more to waking sleeping workers than to a brief spin (libgomp counts about 100,000 spins
///   a millisecond, so about 0.1 ms). Measured on an AMD EPYC Zen 5, 2 threads, bf16:
///   ViT-Ti/16 batch 1 45 -> 80-86 images/s, ViT-S/16 batch 1 22-26 -> 25-41, batch 32 within
///   noise. Not elsewhere: float32 runs its GEMMs on OpenBLAS's own threads, which spinning
///   OpenMP workers slow down (ViT-Ti/16 float32 batch 1 47-50 -> 40-41 at 5,000 spins).
/// Returns true when it changed anything (the libraries must then be loaded afresh).
inline bool prepareComputeEnvironment() {
    bool changed = false;
    const bool policySet = std::getenv("OMP_WAIT_POLICY") != nullptr;
    if (!policySet) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        changed = true;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    // A oneDNN cap (how an older CPU is emulated on a newer one) caps the BLAS kernels and the
    // bf16 choice too.
    const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
    if (!cap || !*cap)
        cap = std::getenv("DNNL_MAX_CPU_ISA");
    const bool avx2Cap = cap && ::strncasecmp(cap, "AVX2", 4) == 0;
    const char* spin = bf16SpinCount(__builtin_cpu_supports("avx512bf16"), cap);
    if (!policySet && !std::getenv("GOMP_SPINCOUNT") && spin) {
        ::setenv("GOMP_SPINCOUNT", spin, 1);
        changed = true;
    }
    if (!std::getenv("OPENBLAS_CORETYPE")) {
        const char* core = nullptr;
        if (avx2Cap)
            core = "HASWELL";
        else if (__builtin_cpu_supports("avx512bf16"))
            core = "COOPERLAKE";
        else if (__builtin_cpu_supports("avx512f"))
            core = "SKYLAKEX";
        else if (__builtin_cpu_supports("avx2"))
            core = "HASWELL";
        if (core) {
            ::setenv("OPENBLAS_CORETYPE", core, 1);
            changed = true;
        }
    }
#endif
    return changed;
}

} // namespace vitrine::core
