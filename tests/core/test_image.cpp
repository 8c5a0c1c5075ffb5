#include <catch2/catch.hpp>

#include "core/image/decode.h"

TEST_CASE("placeholder", "[image]") { REQUIRE(true); }
