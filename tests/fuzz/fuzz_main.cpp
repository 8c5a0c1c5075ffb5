// libFuzzer entry point; VITRINE_FUZZ_TARGET (set per executable in CMakeLists.txt) names
// the function in fuzz_entries.h that this executable exercises.
#include <cstddef>
#include <cstdint>

#include <opencv2/core/utility.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // One process, one core: no OpenCV worker threads, and no decoder chatter per input.
    cv::setNumThreads(0);
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    vitrine::fuzz::VITRINE_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
