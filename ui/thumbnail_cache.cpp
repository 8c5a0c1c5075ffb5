#include "ui/thumbnail_cache.h"

#include <QGuiApplication>
#include <QMutexLocker>
#include <QPointer>

#include "core/image/decode.h"
#include "ui/qt_convert.h"

namespace vitrine::ui {

ThumbnailCache::ThumbnailCache(int size, QObject* parent) : QObject(parent), m_size(size) {
    m_cache.setMaxCost(4000);
    // One thumbnail thread: the other core stays free for the GUI and training.
    m_pool.setMaxThreadCount(std::max(1, QThread::idealThreadCount() - 1));
}

ThumbnailCache::~ThumbnailCache() {
    {
        QMutexLocker lock(&m_mutex);
        m_queue.clear();
    }
    m_pool.waitForDone();
}

QImage ThumbnailCache::get(const QString& path) {
    if (QImage* img = m_cache.object(path))
        return *img;
    if (m_failed.contains(path) || m_pending.contains(path)) {
        if (m_pending.contains(path)) {
            // Move it to the front of the queue: it is on screen again.
            QMutexLocker lock(&m_mutex);
            auto it = std::find(m_queue.begin(), m_queue.end(), path);
            if (it != m_queue.end()) {
                m_queue.erase(it);
                m_queue.push_back(path);
            }
        }
        return {};
    }
    m_pending.insert(path);
    {
        QMutexLocker lock(&m_mutex);
        m_queue.push_back(path);
    }
    pump();
    return {};
}

QImage ThumbnailCache::load(const QString& path, int size, QString* error) {
    try {
        core::image::DecodeOptions opts;
        opts.minShortSide = size;
        cv::Mat rgb = core::image::decodeRgb(path.toStdString(), opts);
        // Square, centre-cropped thumbnails make an even grid.
        QImage img = matToQImage(rgb).scaled(size, size, Qt::KeepAspectRatioByExpanding, Qt::SmoothTransformation);
        return img.copy((img.width() - size) / 2, (img.height() - size) / 2, size, size);
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return {};
    }
}

void ThumbnailCache::pump() {
    while (m_running < m_pool.maxThreadCount()) {
        QString path;
        {
            QMutexLocker lock(&m_mutex);
            if (m_queue.empty())
                return;
            path = m_queue.back();
            m_queue.pop_back();
        }
        ++m_running;
        QPointer<ThumbnailCache> self(this);
        // Sharp on HiDPI screens: decode at the device resolution, drawn at the logical size.
        const qreal dpr = std::max<qreal>(1.0, qApp ? qApp->devicePixelRatio() : 1.0);
        const int size = qRound(m_size * dpr);
        m_pool.start([self, path, size, dpr] {
            QString error;
            QImage img = load(path, size, &error);
            img.setDevicePixelRatio(dpr);
            QMetaObject::invokeMethod(
                self.data(),
                [self, path, img, error] {
                    if (self)
                        self->deliver(path, img, error);
                },
                Qt::QueuedConnection);
        });
    }
}

void ThumbnailCache::deliver(const QString& path, const QImage& image, const QString& error) {
    --m_running;
    m_pending.remove(path);
    if (image.isNull()) {
        m_failed.insert(path);
        Q_EMIT failed(path, error);
    } else {
        m_cache.insert(path, new QImage(image), 1);
        Q_EMIT ready(path);
    }
    pump();
}

void ThumbnailCache::clear() {
    {
        QMutexLocker lock(&m_mutex);
        m_queue.clear();
    }
    m_pending.clear();
    m_failed.clear();
    m_cache.clear();
}

void ThumbnailCache::waitForDone() { m_pool.waitForDone(); }

} // namespace vitrine::ui
