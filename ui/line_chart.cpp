#include "ui/line_chart.h"

#include <QBuffer>
#include <QContextMenuEvent>
#include <QFileDialog>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QTextStream>

#include <cmath>
#include <sstream>

#include "core/io/atomic_file.h"

namespace vitrine::ui {

LineChart::LineChart(const QString& title, QWidget* parent) : QWidget(parent), m_title(title) {
    setMouseTracking(true);
    setMinimumSize(200, 120);
    setToolTip(tr("%1 — hover for values; right-click to save as PNG or CSV").arg(title));
}

int LineChart::addSeries(const QString& name, const QColor& color) {
    m_series.push_back({name, color, {}});
    return static_cast<int>(m_series.size()) - 1;
}

void LineChart::append(int series, double x, double y) {
    if (series < 0 || series >= m_series.size() || !std::isfinite(y))
        return;
    m_series[series].points.push_back({x, y});
    update();
}

void LineChart::setReferenceLine(const QString& name, double y, const QColor& color) {
    for (auto& r : m_refs)
        if (r.name == name) {
            r.y = y;
            update();
            return;
        }
    m_refs.push_back({name, y, color});
    update();
}

void LineChart::clear() {
    for (auto& s : m_series)
        s.points.clear();
    update();
}

void LineChart::setLogY(bool on) {
    m_logY = on;
    update();
}

QRectF LineChart::plotRect() const { return QRectF(48, 22, width() - 58, height() - 44); }

void LineChart::bounds(double& x0, double& x1, double& y0, double& y1) const {
    x0 = y0 = std::numeric_limits<double>::infinity();
    x1 = y1 = -std::numeric_limits<double>::infinity();
    for (const auto& s : m_series)
        for (const QPointF& p : s.points) {
            x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x());
            y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
        }
    for (const auto& r : m_refs)
        y0 = std::min(y0, r.y), y1 = std::max(y1, r.y);
    if (!std::isfinite(x0)) {
        x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    }
    if (x1 - x0 < 1e-9)
        x1 = x0 + 1;
    if (y1 - y0 < 1e-9) {
        y0 -= 0.5;
        y1 += 0.5;
    }
    double pad = 0.05 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
}

void LineChart::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setRenderHint(QPainter::Antialiasing);
    const QRectF pr = plotRect();
    double x0, x1, y0, y1;
    bounds(x0, x1, y0, y1);
    auto mapX = [&](double x) { return pr.left() + (x - x0) / (x1 - x0) * pr.width(); };
    auto mapY = [&](double y) { return pr.bottom() - (y - y0) / (y1 - y0) * pr.height(); };

    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    p.setPen(palette().color(QPalette::Mid));
    p.drawRect(pr);
    for (int i = 0; i <= 4; ++i) {
        double y = y0 + (y1 - y0) * i / 4.0;
        double py = mapY(y);
        p.setPen(QColor(225, 225, 225));
        p.drawLine(QPointF(pr.left(), py), QPointF(pr.right(), py));
        p.setPen(palette().color(QPalette::Text));
        p.drawText(QRectF(0, py - 8, pr.left() - 4, 16), Qt::AlignRight | Qt::AlignVCenter, QString::number(y, 'g', 3));
    }
    p.drawText(QRectF(pr.left(), pr.bottom() + 2, pr.width(), 16), Qt::AlignLeft, QString::number(x0, 'g', 5));
    p.drawText(QRectF(pr.left(), pr.bottom() + 2, pr.width(), 16), Qt::AlignRight, QString::number(x1, 'g', 5));

    for (const auto& r : m_refs) {
        p.setPen(QPen(r.color, 1.2, Qt::DashLine));
        double py = mapY(r.y);
        p.drawLine(QPointF(pr.left(), py), QPointF(pr.right(), py));
        p.drawText(QPointF(pr.right() - p.fontMetrics().horizontalAdvance(r.name) - 4, py - 3), r.name);
    }
    for (const auto& s : m_series) {
        if (s.points.isEmpty())
            continue;
        QPainterPath path;
        // Decimate to about one vertex per pixel column so long runs stay cheap.
        const int stride = std::max<int>(1, int(s.points.size() / std::max(1.0, pr.width())));
        path.moveTo(mapX(s.points[0].x()), mapY(s.points[0].y()));
        for (int i = stride; i < s.points.size(); i += stride)
            path.lineTo(mapX(s.points[i].x()), mapY(s.points[i].y()));
        path.lineTo(mapX(s.points.back().x()), mapY(s.points.back().y()));
        p.setPen(QPen(s.color, 1.6));
        p.setBrush(Qt::NoBrush);
        p.drawPath(path);
        if (s.points.size() < 60) {
            p.setBrush(s.color);
            for (const QPointF& pt : s.points)
                p.drawEllipse(QPointF(mapX(pt.x()), mapY(pt.y())), 2.2, 2.2);
        }
    }
    // Title and legend.
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QPointF(pr.left(), 15), m_title);
    p.setFont(small);
    double lx = pr.left() + QFontMetrics(bold).horizontalAdvance(m_title) + 12;
    for (const auto& s : m_series) {
        p.fillRect(QRectF(lx, 7, 10, 10), s.color);
        p.setPen(palette().color(QPalette::Text));
        QString label = s.name;
        if (!s.points.isEmpty())
            label += QStringLiteral(" %1").arg(s.points.back().y(), 0, 'g', 3);
        p.drawText(QPointF(lx + 13, 16), label);
        lx += 20 + p.fontMetrics().horizontalAdvance(label);
    }
    // Hover read-out.
    if (m_hoverX >= pr.left() && m_hoverX <= pr.right()) {
        double x = x0 + (m_hoverX - pr.left()) / pr.width() * (x1 - x0);
        p.setPen(QPen(QColor(100, 100, 100), 1, Qt::DotLine));
        p.drawLine(QPointF(m_hoverX, pr.top()), QPointF(m_hoverX, pr.bottom()));
        QStringList lines{QStringLiteral("step %1").arg(std::lround(x))};
        for (const auto& s : m_series) {
            if (s.points.isEmpty())
                continue;
            auto it = std::lower_bound(s.points.begin(), s.points.end(), x,
                                       [](const QPointF& a, double v) { return a.x() < v; });
            if (it == s.points.end())
                --it;
            lines << QStringLiteral("%1: %2").arg(s.name).arg(it->y(), 0, 'g', 4);
            p.setBrush(s.color);
            p.drawEllipse(QPointF(mapX(it->x()), mapY(it->y())), 3.5, 3.5);
        }
        QFontMetrics fm(small);
        int w = 0;
        for (const auto& l : lines)
            w = std::max(w, fm.horizontalAdvance(l));
        QRectF box(m_hoverX + 8, pr.top() + 4, w + 10, lines.size() * fm.height() + 6);
        if (box.right() > pr.right())
            box.moveRight(m_hoverX - 8);
        p.setPen(QColor(150, 150, 150));
        QColor fill = palette().color(QPalette::Base);
        fill.setAlpha(235);
        p.setBrush(fill);
        p.drawRect(box);
        p.setPen(palette().color(QPalette::Text));
        for (int i = 0; i < lines.size(); ++i)
            p.drawText(QPointF(box.left() + 5, box.top() + 3 + fm.ascent() + i * fm.height()), lines[i]);
    }
}

void LineChart::mouseMoveEvent(QMouseEvent* e) {
    m_hoverX = e->position().x();
    update();
}

void LineChart::leaveEvent(QEvent*) {
    m_hoverX = -1;
    update();
}

QString LineChart::toCsv() const {
    QString out;
    QTextStream s(&out);
    s << "series,step,value\n";
    for (const auto& ser : m_series)
        for (const QPointF& p : ser.points)
            s << '"' << QString(ser.name).replace('"', "\"\"") << "\"," << p.x() << ',' << p.y() << '\n';
    return out;
}

bool LineChart::saveCsv(const QString& file) const {
    try {
        core::io::writeFileAtomically(file.toStdString(), toCsv().toStdString());
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

bool LineChart::savePng(const QString& file) {
    QImage img(size() * 2, QImage::Format_ARGB32);
    img.setDevicePixelRatio(2);
    render(&img);
    QByteArray bytes;
    QBuffer buf(&bytes);
    buf.open(QIODevice::WriteOnly);
    if (!img.save(&buf, "PNG"))
        return false;
    try {
        core::io::writeFileAtomically(file.toStdString(),
                                      std::string_view(bytes.constData(), std::size_t(bytes.size())));
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

void LineChart::contextMenuEvent(QContextMenuEvent* e) {
    QMenu menu(this);
    menu.addAction(tr("Save as PNG…"), this, [this] {
        QString f = QFileDialog::getSaveFileName(this, tr("Save chart"), m_title + ".png", tr("PNG (*.png)"));
        if (!f.isEmpty())
            savePng(f);
    });
    menu.addAction(tr("Save as CSV…"), this, [this] {
        QString f = QFileDialog::getSaveFileName(this, tr("Save values"), m_title + ".csv", tr("CSV (*.csv)"));
        if (!f.isEmpty())
            saveCsv(f);
    });
    menu.exec(e->globalPos());
}

} // namespace vitrine::ui
