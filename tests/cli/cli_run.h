#pragma once
// Running the real vitrine-cli from the CLI tests: one helper for every test file.
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/files.h"

namespace vitrine::testutil {

struct CliRun {
    int code; ///< exit status, -1 when killed by a signal
    std::string out, err;
};

/// Runs `prefix` + vitrine-cli + `args` through /bin/sh in `dir`'s name space: stdout
/// captured, stderr through "<dir>/stderr.txt".
inline CliRun cli(const std::string& args, const std::filesystem::path& dir, const std::string& prefix = "") {
    const auto errFile = dir / "stderr.txt";
    const std::string cmd = prefix + std::string(VITRINE_CLI_PATH) + " " + args + " 2>'" + errFile.string() + "'";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;)
        out.append(buf.data(), n);
    const int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, core::readFile(errFile)};
}

/// Runs vitrine-cli `args` on a pseudo-terminal, as a person at a terminal does, and types
/// Ctrl-C once the terminal shows `when` (a progress bar's "img/s", a JSON event): the
/// terminal, not the test, sends SIGINT to the program. `out` holds everything the terminal
/// showed (stdout and stderr together); `err` says whether Ctrl-C was typed ("ctrl-c sent").
inline CliRun cliWithCtrlC(const std::vector<std::string>& args, const std::string& when) {
    std::vector<char*> argv{const_cast<char*>("vitrine-cli")};
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int terminal = -1;
    const pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
    if (pid < 0)
        return {-2, "forkpty failed", ""};
    if (pid == 0) {
        ::execv(VITRINE_CLI_PATH, argv.data());
        ::_exit(127);
    }
    std::string shown;
    bool typed = false;
    std::array<char, 4096> buf{};
    // read() fails with EIO once the program has exited and the terminal has no writer left.
    for (ssize_t n; (n = ::read(terminal, buf.data(), buf.size())) > 0;) {
        shown.append(buf.data(), static_cast<std::size_t>(n));
        if (!typed && shown.find(when) != std::string::npos) {
            const char ctrlC = 0x03; // the terminal's VINTR character
            typed = ::write(terminal, &ctrlC, 1) == 1;
        }
    }
    ::close(terminal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, shown, typed ? "ctrl-c sent" : "ctrl-c not sent"};
}

/// Single-quoted for the shell (only for the tests' own simple paths).
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

} // namespace vitrine::testutil
