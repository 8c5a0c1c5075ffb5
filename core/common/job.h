#pragma once
// What every long core job takes: a progress callback and a cancellation token.
// The token is polled between batches; jobs throw core::Cancelled when it is set.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "core/common/error.h"

namespace vitrine::core {

/// Thread-safe cancel/pause flag shared between a worker and whoever controls it.
class CancelToken {
public:
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    void reset() { m_cancelled.store(false, std::memory_order_relaxed); }
    /// Throws Cancelled when cancel() was called.
    void check() const {
        if (cancelled())
            throw Cancelled();
    }

private:
    std::atomic<bool> m_cancelled{false};
};

/// done/total in units of the stage ("images", "steps", ...); total 0 = unknown.
using ProgressFn = std::function<void(long long done, long long total, const std::string& stage)>;

inline void report(const ProgressFn& fn, long long done, long long total, const std::string& stage) {
    if (fn)
        fn(done, total, stage);
}

} // namespace vitrine::core
