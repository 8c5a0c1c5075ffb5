#pragma once
// The one worker pattern: a JobRunner owns a QThread and runs one core job at a
// time on it. The job gets a progress callback and a cancellation token; it returns
// a closure that is run on the GUI thread to install its result. Nothing throws into
// the event loop: exceptions are caught on the worker and reported as failed().

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QThread>

#include <functional>
#include <memory>

#include "core/common/job.h"

namespace vitrine::ui {

class JobRunner : public QObject {
    Q_OBJECT
public:
    struct Context {
        const core::CancelToken& cancel;
        core::ProgressFn progress; ///< thread-safe, throttled to ~20 Hz
    };
    /// Runs on the worker thread; returns what to do on the GUI thread (may be empty).
    using Task = std::function<std::function<void()>(const Context&)>;

    explicit JobRunner(const QString& name, QObject* parent = nullptr);
    ~JobRunner() override; ///< cancels the running job and joins the thread

    /// Starts `task` unless one is running; returns false when busy.
    bool start(Task task);
    void cancel();
    bool busy() const { return m_busy; }
    const QString& name() const { return m_name; }
    /// Estimated seconds left from the progress seen so far (-1 when unknown).
    double etaSeconds() const { return m_eta; }
    /// Blocks until the current job ends (tests and shutdown only).
    bool waitForIdle(int timeoutMs);

Q_SIGNALS:
    void started();
    void progress(qint64 done, qint64 total, const QString& stage);
    void finished();
    void failed(const QString& message);
    void cancelled();
    void idle(); ///< after finished/failed/cancelled

private:
    void onProgress(qint64 done, qint64 total, const QString& stage);
    void end();

    QString m_name;
    QThread m_thread;
    QObject* m_worker; // lives in m_thread
    std::shared_ptr<core::CancelToken> m_cancel;
    bool m_busy = false;
    QElapsedTimer m_clock;
    double m_eta = -1;
};

/// "1:23" / "12 s" style ETA text.
QString formatEta(double seconds);

} // namespace vitrine::ui
