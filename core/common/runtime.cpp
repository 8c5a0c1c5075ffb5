#include "core/common/runtime.h"

#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

namespace vitrine::core {

void ensureFastBlas(int /*argc*/, char** argv) {
    if (std::getenv("VITRINE_NO_REEXEC"))
        return;
    bool changed = false;
    // Idle OpenMP workers sleep instead of spinning: with several worker threads (training,
    // embedding, the GUI) on two cores, spinning teams starve each other and the GUI.
    if (!std::getenv("OMP_WAIT_POLICY")) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        changed = true;
    }
#if defined(__x86_64__)
    if (!std::getenv("OPENBLAS_CORETYPE")) {
        __builtin_cpu_init();
        const char* core = nullptr;
        if (__builtin_cpu_supports("avx512bf16"))
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
    // Both are read when the libraries load, before main(): start again with them set.
    if (changed)
        ::execv("/proc/self/exe", argv);
    // execv only returns on failure: carry on with the defaults.
}

void setComputeThreads(int threads) {
    if (threads <= 0)
        threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
}

int computeThreads() { return at::get_num_threads(); }

} // namespace vitrine::core
