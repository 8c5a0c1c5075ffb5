// `vitrine` and `vitrine-cli` as a person runs them: a few kilobytes that set the environment
// the compute libraries read as they load (compute_env.h) and then execute the program
// itself, from libexec/ beside this file (build tree) or ../libexec/ (installed). LibTorch
// is loaded once, by that program, with the fast BLAS kernels chosen; without the launcher
// the program would have to load it, set the variables and start again, which costs about
// half a second of every start. Variables the user has set are left alone
// (VITRINE_NO_REEXEC only concerns the program's own restart, which the launcher makes
// unnecessary).
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/common/compute_env.h"

int main(int /*argc*/, char** argv) {
    vitrine::core::prepareComputeEnvironment();
    const char* name = VITRINE_PROGRAM;
    char self[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self);
    if (n <= 0 || n >= static_cast<ssize_t>(sizeof self)) {
        std::fprintf(stderr, "%s: cannot find where it is installed (/proc/self/exe: %s)\n", name,
                     n <= 0 ? std::strerror(errno) : "path too long");
        return 127;
    }
    self[n] = '\0';
    std::string dir(self);
    dir.erase(dir.rfind('/'));
    for (const std::string& candidate : {dir + "/libexec/" + name, dir + "/../libexec/" + name}) {
        if (::access(candidate.c_str(), F_OK) != 0)
            continue;
        ::execv(candidate.c_str(), argv);
        std::fprintf(stderr, "%s: cannot start %s: %s\n", name, candidate.c_str(), std::strerror(errno));
        return 127;
    }
    std::fprintf(stderr,
                 "%s: the program itself is missing (looked for %s/libexec/%s and %s/../libexec/%s); rebuild or "
                 "reinstall Vitrine\n",
                 name, dir.c_str(), name, dir.c_str(), name);
    return 127;
}
