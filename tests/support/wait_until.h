#pragma once
// For tests without an event loop: polls `condition` until it holds or `timeoutMs` passes,
// and says which. Use as REQUIRE(waitUntil(...)) so that a condition that never comes fails
// the test (instead of spinning forever or sleeping a guessed time).

#include <chrono>
#include <functional>
#include <thread>

namespace vitrine::testutil {

inline bool waitUntil(const std::function<bool()>& condition, int timeoutMs, int pollMs = 5) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(pollMs));
    }
    return true;
}

} // namespace vitrine::testutil
