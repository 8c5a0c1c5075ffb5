#pragma once
// Thumbnails decoded off the GUI thread (core::image::decodeRgb with JPEG DCT
// scaling), kept in an LRU cache. Requests are served newest first, so the rows the
// user is looking at now win over rows scrolled past.

#include <QCache>
#include <QImage>
#include <QMutex>
#include <QObject>
#include <QSet>
#include <QString>
#include <QThreadPool>

#include <deque>

namespace vitrine::ui {

class ThumbnailCache : public QObject {
    Q_OBJECT
public:
    explicit ThumbnailCache(int size = 128, QObject* parent = nullptr);
    ~ThumbnailCache() override;

    /// The cached thumbnail, or a null image after queueing a load.
    QImage get(const QString& path);
    /// Loads synchronously on the calling thread (workers only; never the GUI thread).
    static QImage load(const QString& path, int size, QString* error = nullptr);
    int size() const { return m_size; }
    void clear();
    /// Blocks until queued loads are done (tests).
    void waitForDone();

Q_SIGNALS:
    void ready(const QString& path);
    void failed(const QString& path, const QString& reason);

private:
    void pump();
    void deliver(const QString& path, const QImage& image, const QString& error);

    int m_size;
    QCache<QString, QImage> m_cache;
    QSet<QString> m_pending;
    QSet<QString> m_failed;
    QMutex m_mutex;
    std::deque<QString> m_queue; // guarded by m_mutex; back = newest
    QThreadPool m_pool;
    int m_running = 0; // GUI thread only
};

} // namespace vitrine::ui
