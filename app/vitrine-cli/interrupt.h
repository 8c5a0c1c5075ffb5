#pragma once
// Ctrl-C (SIGINT) and SIGTERM cancel a long command through its CancelToken instead of
// killing the process, so the command unwinds: a training run writes its checkpoint, an
// embedding run removes its half-written temporaries and keeps the earlier output.
// cli.cpp's run() holds the one scope; a command takes the token from CliContext.

#include <csignal>

#include "core/common/job.h"

namespace vitrine::cli {

/// While alive, SIGINT and SIGTERM cancel `token` once armCancellation() has said that the
/// running command polls it; before that they end the process at once with status 130
/// (exit_codes.h), as a command that never looks at the token could not stop otherwise.
/// The previous handlers come back after.
class InterruptScope {
public:
    explicit InterruptScope(core::CancelToken& token);
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

    /// The command now polls the token (CliContext::cancelToken() calls this).
    static void armCancellation();

private:
    void (*m_previousInt)(int) = SIG_DFL;
    void (*m_previousTerm)(int) = SIG_DFL;
};

} // namespace vitrine::cli
