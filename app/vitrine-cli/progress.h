#pragma once
// Progress of a long command: a redrawn bar on stderr when it is a terminal, JSON lines on
// stdout with --json, else nothing. Every command's core jobs report through fn() (the job
// contract, core/common/job.h); train draws its steps itself and the rest through this.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/common/job.h"

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
/// Reports through fn() take it from their stage instead.
enum class ProgressUnit { Images, Bytes };

/// The short unit of a stage's counts on the bar ("img", "rows"); empty when it has none.
inline const char* stageUnit(core::StageKind kind) {
    using K = core::StageKind;
    switch (kind) {
    case K::LoadingImages:
    case K::Embedding:
    case K::AttentionStats:
    case K::Thumbnails:
    case K::Copying:
    case K::Hashing:
    case K::Validating: return "img";
    case K::Scanning: return "files";
    case K::IndexTraining:
    case K::Indexing:
    case K::Neighbours:
    case K::Scoring: return "rows";
    case K::Optimising: return "it";
    case K::Drawing: return "tiles";
    case K::Training:
    case K::Paused:
    case K::Checkpoint: return "steps";
    default: return "";
    }
}

// Progress on stderr: a redrawn bar on a terminal, JSON lines on stdout with --json, else nothing.
class ProgressPrinter {
public:
    explicit ProgressPrinter(bool json, ProgressUnit unit = ProgressUnit::Images)
        : m_json(json), m_tty(::isatty(STDERR_FILENO) == 1), m_unit(unit) {}

    /// The job contract's callback, for any core job: each stage gets its own bar (named on
    /// a terminal, "stage" in JSON), its rate and ETA counted from its first report.
    core::ProgressFn fn() {
        return [this](long long done, long long total, const core::Stage& stage) { update(done, total, stage); };
    }

    void update(long long done, long long total, const core::Stage& stage) {
        if (!m_stage || m_stage->kind != stage.kind) {
            if (m_open && m_tty && !m_json) // the unfinished bar of the stage before stays
                std::fputc('\n', stderr);
            m_open = false;
            m_stage = stage;
            m_unit = stage.kind == core::StageKind::Downloading ? ProgressUnit::Bytes : ProgressUnit::Images;
            m_first = -1;
            m_start = std::chrono::steady_clock::now();
        }
        m_stage->text = stage.text;
        (*this)(done, total);
    }

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
            nlohmann::json j{{"event", "progress"},
                             {"done", done},
                             {"total", total},
                             {bytes ? "bytes_per_second" : "images_per_second", rate},
                             {"eta_seconds", eta}};
            if (m_stage)
                j["stage"] = std::string(core::stageName(m_stage->kind));
            std::cout << j.dump() << std::endl;
        } else if (m_tty) {
            constexpr int kWidth = 30;
            const int filled = total > 0 ? static_cast<int>(kWidth * std::min(done, total) / total) : 0;
            const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, ' ');
            const std::string label = m_stage ? m_stage->label() + " " : std::string();
            const std::string unit = m_stage ? stageUnit(m_stage->kind) : "img";
            if (bytes)
                std::fprintf(stderr, "\r%s[%s] %.1f/%.1f MB  %.1f MB/s  ETA %s ", label.c_str(), bar.c_str(),
                             done / 1e6, total / 1e6, rate / 1e6, formatDuration(eta).c_str());
            else
                std::fprintf(stderr, "\r%s[%s] %lld/%lld  %.1f %s/s  ETA %s ", label.c_str(), bar.c_str(), done, total,
                             rate, unit.c_str(), formatDuration(eta).c_str());
            m_open = true;
            if (done == total && total > 0 && !bytes) { // a download's bar is cleared by breakLine() before its summary
                std::fputc('\n', stderr);
                m_open = false;
            }
            std::fflush(stderr);
        }
    }
    /// Before printing another line to stderr on a terminal.
    void breakLine() {
        if (m_tty && !m_json)
            std::fputs("\r\033[K", stderr);
        m_open = false;
    }

private:
    bool m_json, m_tty;
    bool m_open = false; ///< a bar is on the terminal's current line
    std::optional<core::Stage> m_stage;
    ProgressUnit m_unit;
    long long m_first = -1;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

} // namespace vitrine::cli
