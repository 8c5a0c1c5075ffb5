// A short soak (the full one is bench/soak.cpp, 20 cycles): repeating scan -> train ->
// cancel -> embed -> export in one process must not grow the resident set grossly.
#include <catch2/catch.hpp>

#include "../sanitizer.h"
#include "../soak_cycle.h"
#include "../train_test_util.h"

using namespace vitrine;

TEST_CASE("four soak cycles in one process keep the resident set flat", "[soak]") {
    testutil::TempDir tmp("soak");
    testutil::linkFourBreeds(tmp.path / "data", 6);
    soak::SoakConfig c;
    c.data = tmp.path / "data";
    c.model = testutil::writeTinyModel(tmp.path / "tiny.safetensors");
    c.work = tmp.path / "work";
    std::filesystem::create_directories(c.work);
    long first = 0, last = 0;
    for (int cycle = 1; cycle <= 4; ++cycle) {
        const auto r = soak::runSoakCycle(c, cycle);
        CHECK(r.trainedSteps == c.steps);
        CHECK(r.embedded == 24);
        last = soak::residentKiB();
        if (cycle == 1)
            first = last;
        INFO("cycle " << cycle << ": " << last << " KiB");
    }
    REQUIRE(first > 0);
    CHECK(std::filesystem::exists(c.work / "bundle" / "sprite.png"));
    if (testutil::kAddressSanitizer) {
        WARN("AddressSanitizer build: the cycles ran, the resident set is not judged (quarantine, shadow memory)");
        return;
    }
    INFO("after cycle 1: " << first << " KiB, after cycle 4: " << last << " KiB");
    CHECK(double(last - first) < 0.2 * double(first));
}
