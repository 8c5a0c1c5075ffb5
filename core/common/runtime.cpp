#include "core/common/runtime.h"

#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

#include "core/common/compute_env.h"

namespace vitrine::core {

void ensureFastBlas(int /*argc*/, char** argv) {
    if (std::getenv("VITRINE_NO_REEXEC"))
        return;
    // Both variables are read when the libraries load, before main(): start again with them
    // set. The launchers (`vitrine`, `vitrine-cli`) set them before this program starts, so
    // this re-execution only happens when the program in libexec/ is run directly.
    if (prepareComputeEnvironment())
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
