#pragma once
// `vitrine-cli train --nproc N`: this program again as N worker processes on this machine,
// ranks of one training group on 127.0.0.1 (what `torchrun --nproc-per-node N` does).

namespace vitrine::cli {

/// Starts N copies of this process (same arguments) with MASTER_ADDR=127.0.0.1, a free
/// MASTER_PORT, WORLD_SIZE=N, RANK and LOCAL_WORLD_SIZE set, and waits for them. Rank 0
/// keeps this process's stdout and stderr; the others' output goes to stderr, each line
/// prefixed "[rank R] ". When a worker fails (non-zero exit or a signal) the launcher says
/// which and waits `graceSeconds` for the others to stop by themselves (they notice at
/// their next all-reduce; rank 0 writes a checkpoint), then sends SIGTERM (a cancel) to
/// those still running and SIGKILL 5 s later. SIGTERM to the launcher reaches the workers;
/// Ctrl-C reaches them from the terminal.
/// Returns the exit code: 0 when every worker succeeded, else the first failure's
/// (128 + signal for a signal).
int launchLocalWorkers(int nproc, int graceSeconds = 10);

} // namespace vitrine::cli
