#pragma once
// vitrine-cli: every non-visual thing the GUI does, as a subcommand.

namespace vitrine::cli {

/// Parses arguments and runs the chosen subcommand; returns the process exit code.
int run(int argc, char** argv);

} // namespace vitrine::cli
