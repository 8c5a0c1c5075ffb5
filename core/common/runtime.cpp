#include "core/common/runtime.h"

#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

namespace vitrine::core {

void ensureFastBlas(int /*argc*/, char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("VITRINE_NO_REEXEC"))
        return;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char* core = nullptr;
    if (__builtin_cpu_supports("avx512bf16"))
        core = "COOPERLAKE";
    else if (__builtin_cpu_supports("avx512f"))
        core = "SKYLAKEX";
    else if (__builtin_cpu_supports("avx2"))
        core = "HASWELL";
    if (!core)
        return;
    ::setenv("OPENBLAS_CORETYPE", core, 1);
    ::execv("/proc/self/exe", argv);
    // execv only returns on failure: carry on with the default kernels.
#else
    (void)argv;
#endif
}

void setComputeThreads(int threads) {
    if (threads <= 0)
        threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
}

int computeThreads() { return at::get_num_threads(); }

} // namespace vitrine::core
