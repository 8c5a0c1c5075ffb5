#pragma once
// The environment the compute libraries read once, as they load (before main() runs):
// shared by the launchers (app/launcher) and ensureFastBlas(). Header-only and free of
// LibTorch so the launchers stay tiny.

#include <cstdlib>

#include <strings.h>

namespace vitrine::core {

/// Sets, where the user has not set them:
/// - OPENBLAS_CORETYPE: Debian's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and
///   falls back to SSE3 kernels (~8x slower float32 GEMM); name the closest kernel set it has.
/// - OMP_WAIT_POLICY=PASSIVE: idle OpenMP workers sleep instead of spinning, so training,
///   embedding and the GUI do not starve each other on a few cores.
/// Returns true when it changed anything (the libraries must then be loaded afresh).
inline bool prepareComputeEnvironment() {
    bool changed = false;
    if (!std::getenv("OMP_WAIT_POLICY")) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        changed = true;
    }
#if defined(__x86_64__)
    if (!std::getenv("OPENBLAS_CORETYPE")) {
        __builtin_cpu_init();
        // A oneDNN cap to AVX2 (how an AVX2-only CPU is emulated on a newer one) caps the
        // BLAS kernels too.
        const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
        if (!cap || !*cap)
            cap = std::getenv("DNNL_MAX_CPU_ISA");
        const bool avx2Cap = cap && ::strncasecmp(cap, "AVX2", 4) == 0;
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
