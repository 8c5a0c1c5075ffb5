#pragma once
// The job contract every vitrine-cli subcommand keeps: its exit status says what happened.
// cli.cpp's run() is the one place that turns a subcommand's ending into a status; the
// subcommands only set CliContext::exitCode for a job that ran to its end, or throw.
//
//   0    done: the job did what was asked (also --help and --version)
//   1    failed: it ran and could not finish (a missing or unreadable file, nothing to embed,
//        a disk that filled up); a message on stderr names the file and the problem
//   2    usage: the command line was wrong (an unknown option, a missing required one, a
//        value out of range, options that exclude each other); nothing was done
//   3    a training rank was lost: `train` on several processes, another rank died or stopped
//        answering (rank 0 writes a checkpoint of the steps all ranks completed first)
//   130  cancelled: Ctrl-C (SIGINT) or SIGTERM stopped it; earlier outputs are as they were
//        (a training run writes its checkpoint first); 128 + SIGINT, as shells report it

#include <stdexcept>

namespace vitrine::cli {

struct ExitCode {
    static constexpr int Done = 0;
    static constexpr int Failed = 1;
    static constexpr int Usage = 2;
    static constexpr int RankLost = 3;
    static constexpr int Cancelled = 130;
};

/// The table above, as --help prints it.
inline constexpr const char* kExitCodeHelp =
    "Exit status: 0 done, 1 failed (the message names the file and the problem), 2 usage error\n"
    "(unknown or missing option, options that exclude each other; nothing was done), 3 a training\n"
    "rank was lost (train on several processes), 130 cancelled by Ctrl-C or SIGTERM (earlier\n"
    "outputs kept).";

/// A command line that parsed but asks for something impossible ("--grid cannot be combined
/// with --rollout"): thrown from a subcommand before it does anything; exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace vitrine::cli
