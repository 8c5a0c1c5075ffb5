#pragma once
// The one worker pattern: a JobRunner owns a QThread and runs one core job at a
// time on it. The job gets a progress callback and a cancellation token; it returns
// a closure that is run on the GUI thread to install its result. Nothing throws into
// the event loop: exceptions are caught on the worker and reported as failed(). The job
// contract (core/common/job.h) holds here: the job's progress is called on the worker and
// reaches the GUI thread as progress() at most ~20 times a second (always the last one of a
// stage); cancel() never waits.

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
        core::ProgressFn progress; ///< for the worker thread; throttled to ~20 Hz, queued to the GUI
    };
    /// Runs on the worker thread; returns what to do on the GUI thread (may be empty).
    using Task = std::function<std::function<void()>(const Context&)>;

    explicit JobRunner(const QString& name, QObject* parent = nullptr);
    ~JobRunner() override; ///< cancels the running job and joins the thread

    /// Starts `task` unless one is running; returns false when busy. The job gets `token`
    /// as Context::cancel when given (a controller that also hands it to the core job, as
    /// the trainer's options take it), else a fresh one; cancel() cancels that token.
    bool start(Task task, std::shared_ptr<core::CancelToken> token = {});
    /// Asks the running job to stop; returns at once (cancelled() or another ending follows).
    void cancel();
    bool busy() const { return m_busy; }
    const QString& name() const { return m_name; }
    /// Estimated seconds left from the progress seen so far (-1 when unknown).
    double etaSeconds() const { return m_eta; }
    /// Processes events until the current job ends (tests and modal dialogs' own Cancel only;
    /// never from a main-window action: it nests the event loop).
    bool waitForIdle(int timeoutMs);

Q_SIGNALS:
    void started();
    /// `stage`: core::Stage::label(), for people; `kind`: what to switch on.
    void progress(qint64 done, qint64 total, const QString& stage, vitrine::core::StageKind kind);
    void finished();
    void failed(const QString& message);
    void cancelled();
    void idle(); ///< after finished/failed/cancelled

private:
    void onProgress(qint64 done, qint64 total, const QString& stage, core::StageKind kind);
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
