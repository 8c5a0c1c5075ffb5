#include "app/vitrine-cli/interrupt.h"

#include <unistd.h>

#include <atomic>

#include "app/vitrine-cli/exit_codes.h"

namespace vitrine::cli {

namespace {

std::atomic<core::CancelToken*> g_token{nullptr};
std::atomic<bool> g_armed{false};

extern "C" void onInterrupt(int) {
    // Only atomic operations and _exit: async-signal-safe.
    auto* token = g_token.load(std::memory_order_relaxed);
    if (!token || !g_armed.load(std::memory_order_relaxed))
        ::_exit(ExitCode::Cancelled);
    token->cancel();
}

} // namespace

InterruptScope::InterruptScope(core::CancelToken& token) {
    g_armed.store(false, std::memory_order_relaxed);
    g_token.store(&token, std::memory_order_relaxed);
    m_previousInt = std::signal(SIGINT, onInterrupt);
    m_previousTerm = std::signal(SIGTERM, onInterrupt);
}

InterruptScope::~InterruptScope() {
    std::signal(SIGINT, m_previousInt);
    std::signal(SIGTERM, m_previousTerm);
    g_token.store(nullptr, std::memory_order_relaxed);
    g_armed.store(false, std::memory_order_relaxed);
}

void InterruptScope::armCancellation() { g_armed.store(true, std::memory_order_relaxed); }

} // namespace vitrine::cli
