#pragma once
// Process-wide compute settings: the BLAS kernel choice and LibTorch's thread count.

namespace vitrine::core {

/// Debian's OpenBLAS 0.3.21 does not recognise recent Intel CPUs and falls back to SSE3
/// kernels (~8x slower float32 GEMM). It reads OPENBLAS_CORETYPE only when it loads, so
/// when that (or OMP_WAIT_POLICY, see compute_env.h) is unset this sets it and re-executes
/// the program (once) with the same arguments, which loads LibTorch a second time. The
/// launchers set both before the program starts, so it costs nothing there. Call first
/// thing in main(). Set VITRINE_NO_REEXEC=1 to disable.
void ensureFastBlas(int argc, char** argv);

/// Sets LibTorch's intra-op thread count (0 = all hardware threads). Debian's LibTorch
/// starts with 1 here.
void setComputeThreads(int threads);

/// Current LibTorch intra-op thread count.
int computeThreads();

} // namespace vitrine::core
