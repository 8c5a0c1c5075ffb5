#pragma once
// Progress of a long command: a redrawn bar on stderr when it is a terminal, JSON lines on
// stdout with --json, else nothing. Shared by embed, audit, compare, select and models download.
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

/// What a progress count counts: images (embed, audit, compare) or bytes (models download).
enum class ProgressUnit { Images, Bytes };

// Progress on stderr: a redrawn bar on a terminal, JSON lines on stdout with --json, else nothing.
class ProgressPrinter {
public:
    explicit ProgressPrinter(bool json, ProgressUnit unit = ProgressUnit::Images)
        : m_json(json), m_tty(::isatty(STDERR_FILENO) == 1), m_unit(unit) {}

    void operator()(long long done, long long total) {
        // Bytes: the speed counts this run's bytes only (a resumed download starts part-way).
        if (m_first < 0)
            m_first = m_unit == ProgressUnit::Bytes ? done : 0;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
        const double minElapsed = m_unit == ProgressUnit::Bytes ? 0.2 : 0.0;
        const double rate = elapsed > minElapsed ? double(done - m_first) / elapsed : 0.0;
        const double eta = rate > 0 && total > 0 ? double(total - done) / rate : -1.0;
        const bool bytes = m_unit == ProgressUnit::Bytes;
        if (m_json) {
            std::cout << nlohmann::json{{"event", "progress"},
                                        {"done", done},
                                        {"total", total},
                                        {bytes ? "bytes_per_second" : "images_per_second", rate},
                                        {"eta_seconds", eta}}
                             .dump()
                      << std::endl;
        } else if (m_tty) {
            constexpr int kWidth = 30;
            const int filled = total > 0 ? static_cast<int>(kWidth * done / total) : 0;
            const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, ' ');
            if (bytes)
                std::fprintf(stderr, "\r[%s] %.1f/%.1f MB  %.1f MB/s  ETA %s ", bar.c_str(), done / 1e6, total / 1e6,
                             rate / 1e6, formatDuration(eta).c_str());
            else
                std::fprintf(stderr, "\r[%s] %lld/%lld  %.1f img/s  ETA %s ", bar.c_str(), done, total, rate,
                             formatDuration(eta).c_str());
            if (done == total && !bytes) // a download's bar is cleared by breakLine() before its summary
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
    ProgressUnit m_unit;
    long long m_first = -1;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

} // namespace vitrine::cli
