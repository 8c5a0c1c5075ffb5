#include "app/vitrine-cli/local_launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "core/common/error.h"
#include "core/train/distributed.h"

namespace vitrine::cli {

namespace {

std::atomic<int> g_forwardSignal{0};

extern "C" void onLauncherSignal(int sig) { g_forwardSignal.store(sig, std::memory_order_relaxed); }

/// This process's argv, as the kernel recorded it.
std::vector<std::string> ownArguments() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (std::size_t at = 0; at < all.size();) {
        const auto end = all.find('\0', at);
        args.push_back(all.substr(at, end == std::string::npos ? std::string::npos : end - at));
        if (end == std::string::npos)
            break;
        at = end + 1;
    }
    if (args.empty())
        throw core::Error("/proc/self/cmdline: cannot read this program's arguments to start the workers");
    return args;
}

std::string describe(int status) {
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::sigabbrev_np(sig);
        return std::string("was killed by signal ") + std::to_string(sig) +
               (name ? std::string(" (SIG") + name + ")" : "");
    }
    return "exited with code " + std::to_string(WEXITSTATUS(status));
}

struct Worker {
    int rank = 0;
    pid_t pid = -1;
    int out = -1, err = -1; ///< pipes from ranks above 0; -1 once closed
    std::string outLine, errLine;
    bool running = true;
    int status = 0;
};

/// Writes the complete lines in `buffer` to stderr with the rank's prefix.
void flushLines(std::string& buffer, int rank, bool all) {
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1)
        std::cerr << "[rank " << rank << "] " << buffer.substr(start, nl - start) << '\n';
    buffer.erase(0, start);
    if (all && !buffer.empty()) {
        std::cerr << "[rank " << rank << "] " << buffer << '\n';
        buffer.clear();
    }
    std::cerr << std::flush;
}

} // namespace

int launchLocalWorkers(int nproc, int graceSeconds) {
    if (nproc < 1)
        throw core::Error("--nproc must be at least 1");
    const auto args = ownArguments();
    const int port = core::train::freeLocalPort();
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    std::cout << std::flush;
    std::cerr << "starting " << nproc << " ranks on 127.0.0.1:" << port << '\n' << std::flush;
    std::vector<Worker> workers(static_cast<std::size_t>(nproc));
    for (int r = 0; r < nproc; ++r) {
        auto& w = workers[std::size_t(r)];
        w.rank = r;
        int outPipe[2] = {-1, -1}, errPipe[2] = {-1, -1};
        if (r > 0 && (::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0))
            throw core::Error(std::string("cannot create a pipe for rank ") + std::to_string(r) + ": " +
                              std::strerror(errno));
        // The environment is built before fork(): between fork and exec only async-signal-safe
        // calls (no allocation: other threads may have held the allocator's lock).
        std::vector<std::string> env;
        const std::vector<std::pair<std::string, std::string>> vars = {
            {"MASTER_ADDR", "127.0.0.1"},          {"MASTER_PORT", std::to_string(port)},
            {"WORLD_SIZE", std::to_string(nproc)}, {"RANK", std::to_string(r)},
            {"LOCAL_RANK", std::to_string(r)},     {"LOCAL_WORLD_SIZE", std::to_string(nproc)}};
        for (char** e = environ; *e; ++e) {
            const std::string entry(*e);
            bool replaced = false;
            for (const auto& [name, value] : vars)
                replaced = replaced || entry.rfind(name + "=", 0) == 0;
            if (!replaced)
                env.push_back(entry);
        }
        for (const auto& [name, value] : vars)
            env.push_back(name + "=" + value);
        std::vector<char*> envp;
        for (auto& e : env)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        const std::string failed = "rank " + std::to_string(r) + ": cannot start /proc/self/exe\n";
        const pid_t pid = ::fork();
        if (pid < 0)
            throw core::Error(std::string("cannot start rank ") + std::to_string(r) + ": " + std::strerror(errno));
        if (pid == 0) {
            if (r > 0) {
                ::dup2(outPipe[1], STDOUT_FILENO);
                ::dup2(errPipe[1], STDERR_FILENO);
            }
            ::execve("/proc/self/exe", argv.data(), envp.data());
            [[maybe_unused]] auto n = ::write(STDERR_FILENO, failed.data(), failed.size());
            ::_exit(127);
        }
        w.pid = pid;
        if (r > 0) {
            ::close(outPipe[1]);
            ::close(errPipe[1]);
            w.out = outPipe[0];
            w.err = errPipe[0];
        }
    }

    // The workers handle Ctrl-C themselves (the terminal sends it to all of them); SIGTERM
    // to the launcher is passed on.
    struct sigaction sa {};
    sa.sa_handler = onLauncherSignal;
    struct sigaction oldInt {
    }, oldTerm{};
    ::sigaction(SIGINT, &sa, &oldInt);
    ::sigaction(SIGTERM, &sa, &oldTerm);

    using Clock = std::chrono::steady_clock;
    int exitCode = 0;
    int failedRank = -1;
    bool interrupted = false; // Ctrl-C: the workers stop with 130, which is no failure
    Clock::time_point termAt = Clock::time_point::max(), killAt = Clock::time_point::max();
    auto signalRunning = [&](int sig) {
        for (auto& w : workers)
            if (w.running)
                ::kill(w.pid, sig);
    };
    for (;;) {
        // Relay the other ranks' output, line by line.
        std::vector<pollfd> fds;
        std::vector<std::pair<Worker*, bool>> owners; // worker, is stdout
        for (auto& w : workers) {
            if (w.out >= 0) {
                fds.push_back({w.out, POLLIN, 0});
                owners.emplace_back(&w, true);
            }
            if (w.err >= 0) {
                fds.push_back({w.err, POLLIN, 0});
                owners.emplace_back(&w, false);
            }
        }
        if (!fds.empty())
            ::poll(fds.data(), fds.size(), 100);
        else
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            auto& [w, isOut] = owners[i];
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            std::string& line = isOut ? w->outLine : w->errLine;
            if (n > 0) {
                line.append(buf, std::size_t(n));
                flushLines(line, w->rank, false);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                flushLines(line, w->rank, true);
                ::close(fds[i].fd);
                (isOut ? w->out : w->err) = -1;
            }
        }

        if (const int sig = g_forwardSignal.exchange(0); sig == SIGTERM)
            signalRunning(SIGTERM);
        else if (sig == SIGINT)
            interrupted = true;

        for (auto& w : workers) {
            if (!w.running)
                continue;
            int status = 0;
            const pid_t got = ::waitpid(w.pid, &status, WNOHANG);
            if (got != w.pid)
                continue;
            w.running = false;
            w.status = status;
            const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (interrupted && WIFEXITED(status) && WEXITSTATUS(status) == 130) {
                exitCode = failedRank < 0 ? 130 : exitCode;
                continue;
            }
            if (!ok && failedRank < 0) {
                failedRank = w.rank;
                exitCode = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
                bool others = false;
                for (const auto& o : workers)
                    others = others || o.running;
                if (others) {
                    std::cerr << "\nrank " << w.rank << " " << describe(status)
                              << "; stopping the other ranks (terminated in " << graceSeconds
                              << " s if they have not stopped by then)\n"
                              << std::flush;
                    // They notice at their next all-reduce and stop by themselves, rank 0 with a
                    // checkpoint; SIGTERM (a cancel) then SIGKILL only for those that do not.
                    termAt = Clock::now() + std::chrono::seconds(graceSeconds);
                    killAt = termAt + std::chrono::seconds(5);
                }
            }
        }
        if (Clock::now() >= termAt) {
            signalRunning(SIGTERM);
            termAt = Clock::time_point::max();
        }
        if (Clock::now() >= killAt) {
            signalRunning(SIGKILL);
            killAt = Clock::time_point::max();
        }
        bool busy = false;
        for (const auto& w : workers)
            busy = busy || w.running || w.out >= 0 || w.err >= 0;
        if (!busy)
            break;
    }
    ::sigaction(SIGINT, &oldInt, nullptr);
    ::sigaction(SIGTERM, &oldTerm, nullptr);
    if (failedRank >= 0) {
        std::cerr << "rank " << failedRank << " failed first;";
        for (const auto& w : workers)
            std::cerr << (w.rank ? "," : "") << " rank " << w.rank << " " << describe(w.status);
        std::cerr << '\n';
    }
    return exitCode;
}

} // namespace vitrine::cli
