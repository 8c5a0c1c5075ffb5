// Catch2 entry point for core tests: same BLAS and thread setup as the programs.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/common/runtime.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    vitrine::core::setComputeThreads(0);
    return Catch::Session().run(argc, argv);
}
