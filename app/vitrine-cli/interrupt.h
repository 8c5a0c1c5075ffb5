#pragma once
// Ctrl-C (SIGINT) and SIGTERM cancel a long command through its CancelToken instead of
// killing the process, so the command unwinds: a training run writes its checkpoint, an
// embedding run removes its half-written temporaries and keeps the earlier output.

#include <csignal>

#include "core/common/job.h"

namespace vitrine::cli {

/// While alive, SIGINT and SIGTERM cancel `token`; the previous handlers come back after.
class InterruptScope {
public:
    explicit InterruptScope(core::CancelToken& token);
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

private:
    void (*m_previousInt)(int) = SIG_DFL;
    void (*m_previousTerm)(int) = SIG_DFL;
};

} // namespace vitrine::cli
