#include "ui/image_canvas.h"

#include <QMouseEvent>
#include <QPainter>

namespace vitrine::ui {

ImageCanvas::ImageCanvas(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setMinimumSize(160, 160);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void ImageCanvas::setImage(const QImage& image, int grid) {
    m_image = image;
    m_grid = grid;
    update();
}

void ImageCanvas::setCaption(const QString& caption) {
    m_caption = caption;
    update();
}

void ImageCanvas::setGridVisible(bool on) {
    m_showGrid = on;
    update();
}

void ImageCanvas::setHoverText(const QString& text) {
    m_hoverText = text;
    update();
}

QRectF ImageCanvas::imageRect() const {
    if (m_image.isNull())
        return {};
    const double top = m_caption.isEmpty() ? 0 : fontMetrics().height() + 4;
    const double bottom = fontMetrics().height() + 6;
    QSizeF avail(width(), height() - top - bottom);
    QSizeF s = QSizeF(m_image.size()).scaled(avail, Qt::KeepAspectRatio);
    return QRectF(QPointF((width() - s.width()) / 2, top + (avail.height() - s.height()) / 2), s);
}

int ImageCanvas::patchAtWidget(const QPointF& pos) const {
    QRectF r = imageRect();
    if (m_grid <= 0 || !r.contains(pos))
        return -1;
    int col = std::clamp(int((pos.x() - r.left()) / r.width() * m_grid), 0, m_grid - 1);
    int row = std::clamp(int((pos.y() - r.top()) / r.height() * m_grid), 0, m_grid - 1);
    return row * m_grid + col;
}

void ImageCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (!m_caption.isEmpty()) {
        QFont f = font();
        f.setBold(true);
        p.setFont(f);
        p.drawText(QRectF(0, 0, width(), fontMetrics().height() + 4), Qt::AlignCenter, m_caption);
        p.setFont(font());
    }
    if (m_image.isNull()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("No image"));
        return;
    }
    QRectF r = imageRect();
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(r, m_image);
    if (m_showGrid && m_grid > 0) {
        p.setPen(QPen(QColor(255, 255, 255, 150), 1));
        for (int i = 1; i < m_grid; ++i) {
            const double x = r.left() + r.width() * i / m_grid, y = r.top() + r.height() * i / m_grid;
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()));
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y));
        }
    }
    if (m_hover >= 0 && m_grid > 0) {
        double cw = r.width() / m_grid, ch = r.height() / m_grid;
        QRectF cell(r.left() + (m_hover % m_grid) * cw, r.top() + (m_hover / m_grid) * ch, cw, ch);
        p.setPen(QPen(QColor(255, 255, 255), 2));
        p.drawRect(cell);
        p.setPen(QPen(QColor(0, 0, 0), 1));
        p.drawRect(cell.adjusted(-1, -1, 1, 1));
    }
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRectF(0, height() - fontMetrics().height() - 4, width(), fontMetrics().height() + 4), Qt::AlignCenter,
               m_hoverText);
}

void ImageCanvas::mouseMoveEvent(QMouseEvent* e) {
    int patch = patchAtWidget(e->position());
    if (patch != m_hover) {
        m_hover = patch;
        Q_EMIT patchHovered(patch);
        update();
    }
}

void ImageCanvas::mousePressEvent(QMouseEvent* e) {
    if (e->button() != Qt::LeftButton)
        return;
    int patch = patchAtWidget(e->position());
    if (patch >= 0)
        Q_EMIT patchClicked(patch);
}

void ImageCanvas::leaveEvent(QEvent*) {
    if (m_hover != -1) {
        m_hover = -1;
        Q_EMIT patchHovered(-1);
        update();
    }
}

} // namespace vitrine::ui
