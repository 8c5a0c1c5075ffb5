#pragma once
// `vitrine-cli train --nproc N`: this program again as N worker processes on this machine,
// ranks of one training group on 127.0.0.1 (what `torchrun --nproc-per-node N` does).

namespace vitrine::cli {

/// Starts N copies of this process (same arguments) with MASTER_ADDR=127.0.0.1, a free
/// MASTER_PORT, WORLD_SIZE=N, RANK and LOCAL_WORLD_SIZE set, and waits for them. Rank 0
/// keeps this process's stdout and stderr; the others' output goes to stderr, each line
/// prefixed "[rank R] ". When a worker fails (non-zero exit or a signal) the launcher says
/// which, asks the others to stop (SIGTERM: they stop at the next step, rank 0 with a
/// checkpoint) and kills those still running `graceSeconds` later. SIGTERM to the launcher
/// reaches the workers; Ctrl-C reaches them from the terminal.
/// Returns the exit code: 0 when every worker succeeded, else the first failure's
/// (128 + signal for a signal).
int launchLocalWorkers(int nproc, int graceSeconds = 15);

} // namespace vitrine::cli
