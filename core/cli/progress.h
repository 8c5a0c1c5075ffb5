#pragma once
// Progress of a long command: a redrawn bar on stderr when it is a terminal, JSON lines on
// stdout with --json, else nothing. Shared by embed and audit.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

namespace vitrine::cli {

inline std::string formatDuration(double seconds) {
    if (!(seconds >= 0) || seconds > 1e7)
        return "--:--";
    auto s = static_cast<long long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

// Progress on stderr: a redrawn bar on a terminal, JSON lines on stdout with --json, else nothing.
class ProgressPrinter {
public:
    explicit ProgressPrinter(bool json) : m_json(json), m_tty(::isatty(STDERR_FILENO) == 1) {}

    void operator()(long long done, long long total) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
        const double rate = elapsed > 0 ? done / elapsed : 0.0;
        const double eta = rate > 0 ? (total - done) / rate : -1.0;
        if (m_json) {
            std::cout << nlohmann::json{{"event", "progress"}, {"done", done}, {"total", total},
                                        {"images_per_second", rate}, {"eta_seconds", eta}}
                             .dump()
                      << std::endl;
        } else if (m_tty) {
            constexpr int kWidth = 30;
            const int filled = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
            std::fprintf(stderr, "\r[%s%s] %lld/%lld  %.1f img/s  ETA %s ", std::string(filled, '#').c_str(),
                         std::string(kWidth - filled, ' ').c_str(), done, total, rate, formatDuration(eta).c_str());
            if (done == total)
                std::fputc('\n', stderr);
            std::fflush(stderr);
        }
    }
    /// Before printing another line to stderr on a terminal.
    void breakLine() {
        if (m_tty && !m_json)
            std::fputs("\r\033[K", stderr);
    }

private:
    bool m_json, m_tty;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

} // namespace vitrine::cli
