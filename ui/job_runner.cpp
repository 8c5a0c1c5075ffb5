#include "ui/job_runner.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <mutex>

namespace vitrine::ui {

JobRunner::JobRunner(const QString& name, QObject* parent) : QObject(parent), m_name(name), m_worker(new QObject) {
    m_thread.setObjectName(name);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
}

JobRunner::~JobRunner() {
    if (m_cancel)
        m_cancel->cancel();
    m_thread.quit();
    m_thread.wait();
}

bool JobRunner::start(Task task, std::shared_ptr<core::CancelToken> token) {
    if (m_busy)
        return false;
    m_busy = true;
    m_eta = -1;
    m_cancel = token ? std::move(token) : std::make_shared<core::CancelToken>();
    m_clock.start();
    Q_EMIT started();

    auto cancel = m_cancel;
    QPointer<JobRunner> self(this);
    QMetaObject::invokeMethod(m_worker, [self, cancel, task = std::move(task)] {
        // Progress is throttled here so a fast loop cannot flood the GUI event queue.
        // The first report of a stage and the last (done == total) always pass.
        struct Last {
            std::chrono::steady_clock::time_point time;
            int kind = -1;
        };
        auto last = std::make_shared<Last>();
        core::ProgressFn progress = [self, last](long long done, long long total, const core::Stage& stage) {
            auto now = std::chrono::steady_clock::now();
            if (done != total && int(stage.kind) == last->kind && now - last->time < std::chrono::milliseconds(50))
                return;
            last->time = now;
            last->kind = int(stage.kind);
            QString label = QString::fromStdString(stage.label());
            QMetaObject::invokeMethod(
                self.data(),
                [self, done, total, label, kind = stage.kind] {
                    if (self)
                        self->onProgress(done, total, label, kind);
                },
                Qt::QueuedConnection);
        };
        std::function<void()> apply;
        QString error;
        bool wasCancelled = false;
        try {
            apply = task(Context{*cancel, progress});
            wasCancelled = cancel->cancelled() && !apply;
        } catch (const core::Cancelled&) {
            wasCancelled = true;
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        } catch (...) {
            error = QStringLiteral("unknown error");
        }
        QMetaObject::invokeMethod(
            self.data(),
            [self, apply, error, wasCancelled] {
                if (!self)
                    return;
                if (wasCancelled) {
                    Q_EMIT self->cancelled();
                } else if (!error.isEmpty()) {
                    Q_EMIT self->failed(error);
                } else {
                    if (apply) {
                        try {
                            apply();
                        } catch (const std::exception& e) {
                            Q_EMIT self->failed(QString::fromStdString(e.what()));
                            self->end();
                            return;
                        }
                    }
                    Q_EMIT self->finished();
                }
                self->end();
            },
            Qt::QueuedConnection);
    });
    return true;
}

void JobRunner::cancel() {
    if (m_cancel)
        m_cancel->cancel();
}

void JobRunner::onProgress(qint64 done, qint64 total, const QString& stage, core::StageKind kind) {
    if (total > 0 && done > 0) {
        double elapsed = m_clock.elapsed() / 1000.0;
        m_eta = elapsed * double(total - done) / double(done);
    }
    Q_EMIT progress(done, total, stage, kind);
}

void JobRunner::end() {
    m_busy = false;
    Q_EMIT idle();
}

bool JobRunner::waitForIdle(int timeoutMs) {
    if (!m_busy)
        return true;
    QEventLoop loop;
    QTimer timer;
    timer.setSingleShot(true);
    connect(&timer, &QTimer::timeout, &loop, &QEventLoop::quit);
    connect(this, &JobRunner::idle, &loop, &QEventLoop::quit);
    timer.start(timeoutMs);
    loop.exec();
    return !m_busy;
}

QString formatEta(double seconds) {
    if (seconds < 0)
        return QStringLiteral("…");
    auto s = static_cast<long long>(seconds + 0.5);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60);
}

} // namespace vitrine::ui
