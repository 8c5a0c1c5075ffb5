#include "app/vitrine-cli/interrupt.h"

#include <atomic>

namespace vitrine::cli {

namespace {

std::atomic<core::CancelToken*> g_token{nullptr};

extern "C" void onInterrupt(int) {
    // Only atomic operations: async-signal-safe.
    if (auto* token = g_token.load(std::memory_order_relaxed))
        token->cancel();
}

} // namespace

InterruptScope::InterruptScope(core::CancelToken& token) {
    g_token.store(&token, std::memory_order_relaxed);
    m_previousInt = std::signal(SIGINT, onInterrupt);
    m_previousTerm = std::signal(SIGTERM, onInterrupt);
}

InterruptScope::~InterruptScope() {
    std::signal(SIGINT, m_previousInt);
    std::signal(SIGTERM, m_previousTerm);
    g_token.store(nullptr, std::memory_order_relaxed);
}

} // namespace vitrine::cli
