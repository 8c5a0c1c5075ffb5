#pragma once
// Running the real vitrine-cli from the CLI tests: one helper for every test file.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/common/files.h"

namespace vitrine::testutil {

struct CliRun {
    int code;            ///< exit status, -1 when killed by a signal
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

/// Single-quoted for the shell (only for the tests' own simple paths).
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

} // namespace vitrine::testutil
