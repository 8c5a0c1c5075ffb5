#include "ui/scatter_view.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/thumbnail_cache.h"

namespace vitrine::ui {
namespace {
constexpr int kAnimMs = 450;
constexpr int kThumbZoomLimit = 160; // thumbnails replace dots when fewer points are on screen
constexpr int kThumbPx = 56;
constexpr int kDensityBins = 1024;            // level-0 raster bins per side
constexpr int kDensityMinBins = 32;           // coarsest pyramid level
constexpr qsizetype kPointBudget = 300000;    // points stamped per frame while bins are small
constexpr qsizetype kPointHardLimit = 700000; // beyond this the raster is drawn even if blocky
constexpr int kSelectionRingLimit = 2000;     // larger selections are stamped, not drawn as rings
bool finitePoint(const QPointF& p) { return std::isfinite(p.x()) && std::isfinite(p.y()); }
} // namespace

QVector<QColor> categoricalPalette(int n) {
    static const QVector<QColor> base{
        QColor(31, 119, 180), QColor(255, 127, 14),  QColor(44, 160, 44),   QColor(214, 39, 40),  QColor(148, 103, 189),
        QColor(140, 86, 75),  QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34), QColor(23, 190, 207)};
    QVector<QColor> out;
    for (int i = 0; i < n; ++i) {
        if (i < base.size()) {
            out << base[i];
        } else {
            // Golden-angle hue steps with alternating lightness stay distinguishable.
            double h = std::fmod(i * 137.508, 360.0) / 360.0;
            out << QColor::fromHsvF(h, 0.65, (i % 2) ? 0.85 : 0.62);
        }
    }
    return out;
}

ScatterView::ScatterView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(200, 160);
    setAttribute(Qt::WA_OpaquePaintEvent);
    m_animTimer.setInterval(16);
    connect(&m_animTimer, &QTimer::timeout, this, &ScatterView::animationStep);
    setToolTip(tr("Wheel: zoom · drag: pan · Shift+drag: rectangle select · Ctrl+drag: lasso · "
                  "click: select · +/−: zoom · arrows: pan · F: fit · Esc: clear selection"));
    setAccessibleName(tr("Embedding map"));
}

void ScatterView::setPositions(const QVector<QPointF>& positions, bool animate, bool fitView) {
    // Large maps jump to the new layout: interpolating 10^6 points per frame costs more
    // than a frame.
    if (animate && positions.size() == m_pos.size() && !m_pos.isEmpty() && positions.size() < kRasterMinPoints) {
        m_from = displayPositions();
        m_anim = 0.0;
        m_animClock.start();
        m_animTimer.start();
    } else {
        m_anim = 1.0;
        m_animTimer.stop();
    }
    m_pos = positions;
    m_index.setPositions(m_pos);
    m_densityDirty = true;
    if (fitView || m_scale <= 0)
        fitToData();
    update();
}

void ScatterView::setCategories(const QVector<int>& category, const QStringList& names,
                                const QVector<QColor>& palette) {
    m_index.setCategories(category);
    m_index.setHiddenCategories({});
    m_categoryNames = names;
    m_palette = palette;
    coloursEdited();
    Q_EMIT coloursChanged();
}

void ScatterView::coloursEdited() {
    m_densityDirty = true;
    update();
}

void ScatterView::copyColoursFrom(const ScatterView& other) {
    if (other.categories().size() != m_pos.size())
        return;
    m_index.setCategories(other.categories());
    m_index.setHiddenCategories(other.m_index.hiddenCategories());
    m_index.setPointFilter(other.pointFilter().size() == m_pos.size() ? other.pointFilter() : QVector<bool>{});
    m_categoryNames = other.m_categoryNames;
    m_palette = other.m_palette;
    coloursEdited();
}

QRectF ScatterView::visibleDataRect() const {
    const QPointF a = toData(QPointF(0, 0)), b = toData(QPointF(width(), height()));
    return QRectF(a, b).normalized();
}

void ScatterView::showDataRect(const QRectF& rect) {
    if (!rect.isValid() || rect.width() <= 0 || rect.height() <= 0 || width() <= 0 || height() <= 0)
        return;
    m_center = rect.center();
    m_scale = std::min(width() / rect.width(), height() / rect.height());
    m_fitted = false;
    update();
}

void ScatterView::userMovedView() {
    update();
    Q_EMIT viewChanged();
}

void ScatterView::setCategoryVisible(int category, bool visible) {
    m_index.setCategoryVisible(category, visible);
    coloursEdited();
    Q_EMIT coloursChanged();
}

void ScatterView::setPointFilter(const QVector<bool>& shown) {
    m_index.setPointFilter(shown);
    coloursEdited();
    Q_EMIT coloursChanged();
}

void ScatterView::setMarked(const QVector<bool>& marked) {
    m_marked = marked;
    update();
}

void ScatterView::setImagePaths(const QStringList& paths, ThumbnailCache* cache) {
    m_paths = paths;
    if (m_thumbs != cache) {
        m_thumbs = cache;
        if (cache)
            connect(cache, &ThumbnailCache::ready, this, qOverload<>(&QWidget::update));
    }
    update();
}

void ScatterView::setLabels(const QStringList& labels) { m_labels = labels; }

void ScatterView::setSelection(const QSet<int>& points, bool emitSignal) {
    m_selection = points;
    m_selectedMask.clear();
    if (m_selection.size() > kSelectionRingLimit) {
        m_selectedMask = QVector<char>(m_pos.size(), 0);
        for (int i : m_selection)
            if (i >= 0 && i < m_selectedMask.size())
                m_selectedMask[i] = 1;
    }
    update();
    if (emitSignal)
        Q_EMIT selectionChanged(m_selection);
}

void ScatterView::setCurrent(int point) {
    m_current = point;
    update();
}

void ScatterView::setLinkedHover(int point) {
    if (point == m_linkedHover)
        return;
    m_linkedHover = point;
    update();
}

QVector<QPointF> ScatterView::displayPositions() const {
    if (m_anim >= 1.0 || m_from.size() != m_pos.size())
        return m_pos;
    // Ease-in-out so points accelerate and settle.
    double t = m_anim < 0.5 ? 2 * m_anim * m_anim : 1 - std::pow(-2 * m_anim + 2, 2) / 2;
    QVector<QPointF> out(m_pos.size());
    for (int i = 0; i < m_pos.size(); ++i)
        out[i] = m_from[i] + (m_pos[i] - m_from[i]) * t;
    return out;
}

void ScatterView::animationStep() {
    m_anim = std::min(1.0, m_animClock.elapsed() / double(kAnimMs));
    if (m_anim >= 1.0)
        m_animTimer.stop();
    update();
}

void ScatterView::fitToData() {
    const QRectF b = m_index.bounds();
    if (m_pos.isEmpty() || b.isNull()) {
        m_center = {};
        m_scale = 1.0;
        return;
    }
    double w = std::max(b.width(), 1e-9), h = std::max(b.height(), 1e-9);
    m_center = b.center();
    m_scale = 0.9 * std::min(width() / w, height() / h);
    if (!std::isfinite(m_scale) || m_scale <= 0)
        m_scale = 1.0;
    m_fitted = true;
    update();
}

MapTransform ScatterView::transform() const { return MapTransform{m_center, m_scale, QSizeF(size())}; }

QPointF ScatterView::toWidget(const QPointF& d) const { return transform().toWidget(d); }

QPointF ScatterView::toData(const QPointF& w) const { return transform().toData(w); }

void ScatterView::rebuildDensity() {
    m_densityDirty = false;
    m_density.clear();
    m_densityBase = palette().color(QPalette::Base).rgb();
    if (!m_index.indexed() || m_pos.size() < kRasterMinPoints)
        return;
    const int bins = kDensityBins;
    QVector<quint32> count(bins * bins, 0), red(bins * bins, 0), green(bins * bins, 0), blue(bins * bins, 0);
    QVector<QRgb> colours(std::max<qsizetype>(m_palette.size(), 1), QColor(31, 119, 180).rgb());
    for (int c = 0; c < m_palette.size(); ++c)
        colours[c] = m_palette[c].rgb();
    QVector<char> hiddenCategory(colours.size(), 0);
    for (int c : m_index.hiddenCategories())
        if (c >= 0 && c < hiddenCategory.size())
            hiddenCategory[c] = 1;
    const bool filtered = m_index.filtered();
    const double x0 = m_index.bounds().left(), y0 = m_index.bounds().top();
    const double sx = bins / std::max(m_index.bounds().width(), 1e-12),
                 sy = bins / std::max(m_index.bounds().height(), 1e-12);
    for (const ScatterIndex::CellPoint& cp : m_index.cellPoints()) {
        const QPointF& p = cp.pos;
        if (filtered && !m_index.pointFilter()[cp.index])
            continue;
        const int cat = std::clamp(cp.category, 0, int(colours.size()) - 1);
        if (cat == cp.category ? hiddenCategory[cat] : m_index.hiddenCategories().contains(cp.category))
            continue;
        const int bx = std::clamp(int((p.x() - x0) * sx), 0, bins - 1),
                  by = std::clamp(int((p.y() - y0) * sy), 0, bins - 1);
        const int b = by * bins + bx;
        ++count[b];
        red[b] += qRed(colours[cat]), green[b] += qGreen(colours[cat]), blue[b] += qBlue(colours[cat]);
    }
    const QRgb base = m_densityBase;
    for (int n = bins;; n /= 2) {
        if (n != bins) {
            // Each coarser level sums 2 x 2 bins of the finer one.
            const int fine = n * 2;
            QVector<quint32> c2(n * n, 0), r2(n * n, 0), g2(n * n, 0), b2(n * n, 0);
            for (int y = 0; y < fine; ++y)
                for (int x = 0; x < fine; ++x) {
                    const int from = y * fine + x, to = (y / 2) * n + x / 2;
                    c2[to] += count[from], r2[to] += red[from], g2[to] += green[from], b2[to] += blue[from];
                }
            count.swap(c2), red.swap(r2), green.swap(g2), blue.swap(b2);
        }
        const quint32 maxCount = count.isEmpty() ? 0 : *std::max_element(count.cbegin(), count.cend());
        const double logMax = std::log1p(double(std::max<quint32>(maxCount, 1)));
        DensityLevel level;
        level.bins = n;
        level.colour = QVector<QRgb>(n * n, base);
        for (int b = 0; b < n * n; ++b) {
            const quint32 k = count[b];
            if (k == 0)
                continue;
            // A lone point still shows; dense bins take the full mean colour of their points.
            const double a = 0.45 + 0.55 * std::log1p(double(k)) / logMax;
            auto mix = [&](double v, int bg) { return int(std::lround(a * v / k + (1 - a) * bg)); };
            level.colour[b] = qRgb(mix(red[b], qRed(base)), mix(green[b], qGreen(base)), mix(blue[b], qBlue(base)));
        }
        m_density << level;
        if (n / 2 < kDensityMinBins)
            break;
    }
}

void ScatterView::paintDensity(QImage& img, double bin0Px) {
    // The finest level whose bins cover at least a device pixel, so no bin is skipped.
    int levelIndex = 0;
    while (levelIndex + 1 < m_density.size() && bin0Px * (kDensityBins / m_density[levelIndex].bins) < 1.0)
        ++levelIndex;
    const DensityLevel& level = m_density[levelIndex];
    const int bins = level.bins, w = img.width(), h = img.height();
    const double dpr = img.devicePixelRatio(), s = m_scale * dpr, hw = w / 2.0, hh = h / 2.0;
    const double bw = m_index.bounds().width() / bins, bh = m_index.bounds().height() / bins;
    auto binOf = [&](double v, double origin, double size) {
        if (size <= 0) // every point on one line: one bin, a pixel wide
            return std::abs(v - origin) * s <= 0.5 ? 0 : -1;
        const double b = std::floor((v - origin) / size);
        return b >= 0 && b < bins ? int(b) : -1;
    };
    QVector<int> colBin(w), rowBin(h);
    for (int x = 0; x < w; ++x)
        colBin[x] = binOf((x + 0.5 - hw) / s + m_center.x(), m_index.bounds().left(), bw);
    for (int y = 0; y < h; ++y)
        rowBin[y] = binOf(-(y + 0.5 - hh) / s + m_center.y(), m_index.bounds().top(), bh);
    int xFirst = 0, xLast = w - 1;
    while (xFirst < w && colBin[xFirst] < 0)
        ++xFirst;
    while (xLast >= xFirst && colBin[xLast] < 0)
        --xLast;
    auto* bits = reinterpret_cast<QRgb*>(img.bits());
    const qsizetype stride = img.bytesPerLine() / 4;
    for (int y = 0; y < h; ++y) {
        if (rowBin[y] < 0)
            continue;
        const QRgb* row = level.colour.constData() + qsizetype(rowBin[y]) * bins;
        QRgb* line = bits + y * stride;
        for (int x = xFirst; x <= xLast; ++x)
            line[x] = row[colBin[x]];
    }
}

void ScatterView::stampSelection(QImage& img) {
    // Large selections (a lasso over a cluster of 10^6) are stamped straight into the
    // image: a ring of the text colour around the point's own colour.
    if (m_selection.size() <= kSelectionRingLimit || m_selectedMask.size() != m_pos.size() || animating())
        return;
    const double dpr = img.devicePixelRatio();
    const int w = img.width(), h = img.height();
    auto* bits = reinterpret_cast<QRgb*>(img.bits());
    const qsizetype stride = img.bytesPerLine() / 4;
    const double s = m_scale * dpr, hw = w / 2.0, hh = h / 2.0;
    const QRgb ring = palette().color(QPalette::Text).rgb();
    const int r = int(std::ceil(3 * dpr));
    QVector<QRgb> fills(std::max<qsizetype>(m_palette.size(), 1), QColor(31, 119, 180).rgb());
    for (int c = 0; c < m_palette.size(); ++c)
        fills[c] = m_palette[c].rgb();
    // The points of the cells in view, in memory order, rather than the set's hash order.
    const double margin = (r + 1) / s;
    m_index.forEachCellRun(visibleDataRect().adjusted(-margin, -margin, margin, margin), [&](int begin, int end) {
        for (int k = begin; k < end; ++k) {
            const ScatterIndex::CellPoint& cp = m_index.cellPoints()[k];
            if (!m_selectedMask[cp.index])
                continue;
            const int px = int(std::lround((cp.pos.x() - m_center.x()) * s + hw));
            const int py = int(std::lround(-(cp.pos.y() - m_center.y()) * s + hh));
            if (px < -r || py < -r || px >= w + r || py >= h + r)
                continue;
            const QRgb fill = fills[std::clamp(cp.category, 0, int(fills.size()) - 1)];
            for (int dy = -r; dy <= r; ++dy)
                for (int dx = -r; dx <= r; ++dx) {
                    const int d2 = dx * dx + dy * dy, x = px + dx, y = py + dy;
                    if (d2 > r * r + 1 || x < 0 || y < 0 || x >= w || y >= h)
                        continue;
                    bits[y * stride + x] = d2 >= (r - 1) * (r - 1) ? ring : fill;
                }
        }
        return true;
    });
}

int ScatterView::pointAt(const QPointF& widgetPos, double radiusPx) const {
    return m_index.pointAt(widgetPos, radiusPx, transform());
}

void ScatterView::paintPoints(QImage& img) {
    const QRgb base = palette().color(QPalette::Base).rgb();
    img.fill(base);
    m_lastFrameRaster = false;
    const int n = m_pos.size();
    if (n == 0)
        return;
    const double dpr = img.devicePixelRatio();
    const QRectF viewRect = visibleDataRect();
    if (n >= kRasterMinPoints && !animating() && m_index.indexed()) {
        // Many points in view while a raster bin is at most ~2 pixels: the density raster.
        // Zoomed in further, the points of the cells in view are stamped one by one.
        const double bw = m_index.bounds().width() / kDensityBins * m_scale * dpr,
                     bh = m_index.bounds().height() / kDensityBins * m_scale * dpr;
        const double binPx = bw > 0 && bh > 0 ? std::min(bw, bh) : std::max(bw, bh);
        const qsizetype inView = m_index.countInCells(viewRect);
        if (inView > (binPx <= 2.0 ? kPointBudget : kPointHardLimit)) {
            if (m_densityDirty || m_densityBase != base)
                rebuildDensity();
            if (!m_density.isEmpty()) {
                paintDensity(img, binPx);
                m_lastFrameRaster = true;
                return;
            }
        }
    }
    // Points are stamped in device pixels (sharp on HiDPI screens). Dot radius shrinks as
    // the map fills up.
    const double radius = (n > 50000 ? 1.5 : n > 10000 ? 2.0 : n > 2000 ? 2.6 : 3.6) * dpr;
    const int r = int(std::ceil(radius));
    QVector<QPoint> stamp;
    for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx)
            if (dx * dx + dy * dy <= radius * radius + 0.5)
                stamp << QPoint(dx, dy);
    QVector<QRgb> colours(std::max<qsizetype>(m_palette.size(), 1));
    for (int c = 0; c < m_palette.size(); ++c)
        colours[c] = m_palette[c].rgb();
    if (m_palette.isEmpty())
        colours[0] = QColor(31, 119, 180).rgb();
    const int w = img.width(), h = img.height();
    auto* bits = reinterpret_cast<QRgb*>(img.bits());
    const qsizetype stride = img.bytesPerLine() / 4;
    const double cx = m_center.x(), cy = m_center.y(), s = m_scale * dpr, hw = w / 2.0, hh = h / 2.0;
    auto draw = [&](int i, const QPointF& p) {
        if (isHidden(i) || !finitePoint(p))
            return true;
        const int px = int(std::lround((p.x() - cx) * s + hw));
        const int py = int(std::lround(-(p.y() - cy) * s + hh));
        if (px < -r || py < -r || px >= w + r || py >= h + r)
            return true;
        const QRgb colour = colours[std::clamp(m_index.categories().value(i), 0, int(colours.size()) - 1)];
        for (const QPoint& o : stamp) {
            const int x = px + o.x(), y = py + o.y();
            if (x >= 0 && y >= 0 && x < w && y < h)
                bits[y * stride + x] = colour;
        }
        return true;
    };
    if (animating()) {
        const QVector<QPointF> pos = displayPositions();
        for (int i = 0; i < n; ++i)
            draw(i, pos[i]);
    } else {
        // Only the grid cells in view (widened by a dot's radius) are visited, in memory order.
        QVector<char> hiddenCategory(colours.size(), 0);
        for (int c : m_index.hiddenCategories())
            if (c >= 0 && c < hiddenCategory.size())
                hiddenCategory[c] = 1;
        const bool filtered = m_index.filtered();
        const double margin = (r + 1) / s;
        m_index.forEachCellRun(viewRect.adjusted(-margin, -margin, margin, margin), [&](int begin, int end) {
            const ScatterIndex::CellPoint* cells = m_index.cellPoints().constData();
            for (const ScatterIndex::CellPoint *cp = cells + begin, *last = cells + end; cp != last; ++cp) {
                const int cat = std::clamp(cp->category, 0, int(colours.size()) - 1);
                if ((filtered && !m_index.pointFilter()[cp->index]) ||
                    (cat == cp->category ? hiddenCategory[cat] : m_index.hiddenCategories().contains(cp->category)))
                    continue;
                const int px = int(std::lround((cp->pos.x() - cx) * s + hw));
                const int py = int(std::lround(-(cp->pos.y() - cy) * s + hh));
                if (px < -r || py < -r || px >= w + r || py >= h + r)
                    continue;
                const QRgb colour = colours[cat];
                if (px >= r && py >= r && px < w - r && py < h - r) {
                    for (const QPoint& o : stamp)
                        bits[(py + o.y()) * stride + px + o.x()] = colour;
                } else {
                    for (const QPoint& o : stamp) {
                        const int x = px + o.x(), y = py + o.y();
                        if (x >= 0 && y >= 0 && x < w && y < h)
                            bits[y * stride + x] = colour;
                    }
                }
            }
            return true;
        });
    }
}

void ScatterView::paintOverlays(QPainter& p) {
    const QVector<QPointF> pos = displayPositions();
    p.setRenderHint(QPainter::Antialiasing);
    // Thumbnails replace dots when zoomed in far enough.
    const bool moving = animating();
    if (m_thumbs && m_paths.size() == pos.size()) {
        QVector<int> onScreen;
        QRectF view = rect().adjusted(-kThumbPx, -kThumbPx, kThumbPx, kThumbPx);
        auto consider = [&](int i) {
            if (!isHidden(i) && view.contains(toWidget(pos[i])))
                onScreen << i;
            return onScreen.size() <= kThumbZoomLimit;
        };
        if (moving) {
            for (int i = 0; i < pos.size() && consider(i); ++i) {
            }
        } else {
            m_index.forEachInCells(QRectF(toData(view.topLeft()), toData(view.bottomRight())).normalized(), consider);
        }
        if (!onScreen.isEmpty() && onScreen.size() <= kThumbZoomLimit) {
            for (int i : onScreen) {
                QImage t = m_thumbs->get(m_paths[i]);
                QPointF c = toWidget(pos[i]);
                QRectF r(c.x() - kThumbPx / 2.0, c.y() - kThumbPx / 2.0, kThumbPx, kThumbPx);
                if (!t.isNull())
                    p.drawImage(r, t);
                QColor edge = m_palette.value(m_index.categories().value(i), Qt::gray);
                p.setPen(QPen(edge, 3));
                p.setBrush(Qt::NoBrush);
                p.drawRect(r);
            }
        }
    }
    // Marked points (e.g. wrong-class neighbour): a thin red ring.
    if (m_marked.size() == pos.size()) {
        p.setPen(QPen(QColor(200, 0, 0, 200), 1.2));
        p.setBrush(Qt::NoBrush);
        int drawn = 0;
        auto mark = [&](int i) {
            if (m_marked[i] && !isHidden(i)) {
                p.drawEllipse(toWidget(pos[i]), 4.5, 4.5);
                ++drawn;
            }
            return drawn < 20000;
        };
        if (moving) {
            for (int i = 0; i < pos.size() && mark(i); ++i) {
            }
        } else {
            const double margin = 6 / m_scale;
            m_index.forEachInCells(visibleDataRect().adjusted(-margin, -margin, margin, margin), mark);
        }
    }
    if (!m_selection.isEmpty() && m_selection.size() <= kSelectionRingLimit) {
        p.setPen(QPen(palette().color(QPalette::Text), 1.5));
        for (int i : m_selection) {
            if (i < 0 || i >= pos.size())
                continue;
            p.setBrush(m_palette.value(m_index.categories().value(i), QColor(31, 119, 180)));
            p.drawEllipse(toWidget(pos[i]), 4.5, 4.5);
        }
    }
    if (m_current >= 0 && m_current < pos.size()) {
        p.setPen(QPen(palette().color(QPalette::Text), 2.5));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(toWidget(pos[m_current]), 9, 9);
    }
    if (m_linkedHover >= 0 && m_linkedHover < pos.size() && !std::isnan(pos[m_linkedHover].x())) {
        p.setPen(QPen(QColor(230, 120, 0), 2.5, Qt::DashLine));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(toWidget(pos[m_linkedHover]), 10, 10);
    }
    if (!m_rubber.isNull()) {
        p.setPen(QPen(QColor(0, 90, 200), 1, Qt::DashLine));
        p.setBrush(QColor(0, 90, 200, 30));
        p.drawRect(m_rubber.normalized());
    }
    if (m_lasso.size() > 1) {
        p.setPen(QPen(QColor(0, 90, 200), 1.5, Qt::DashLine));
        p.setBrush(QColor(0, 90, 200, 30));
        p.drawPolygon(m_lasso);
    }
    // Hover card: thumbnail, class and path.
    if (m_hover >= 0 && m_hover < pos.size()) {
        QPointF c = toWidget(pos[m_hover]);
        p.setPen(QPen(palette().color(QPalette::Text), 1.5));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(c, 6, 6);
        QImage t = (m_thumbs && m_hover < m_paths.size()) ? m_thumbs->get(m_paths[m_hover]) : QImage();
        QString text = m_labels.value(m_hover);
        QFontMetrics fm(font());
        QStringList lines = text.split('\n');
        int tw = 0;
        for (const QString& l : lines)
            tw = std::max(tw, fm.horizontalAdvance(l));
        tw = std::min(tw, 360);
        const int thumb = t.isNull() ? 0 : 96;
        QRectF card(0, 0, std::max(tw, thumb) + 16, thumb + lines.size() * fm.height() + 16);
        QPointF at = c + QPointF(14, 14);
        if (at.x() + card.width() > width())
            at.setX(c.x() - 14 - card.width());
        if (at.y() + card.height() > height())
            at.setY(c.y() - 14 - card.height());
        card.moveTopLeft(at);
        p.setPen(QColor(120, 120, 120));
        QColor cardColour = palette().color(QPalette::ToolTipBase);
        cardColour.setAlpha(240);
        p.setBrush(cardColour);
        p.drawRoundedRect(card, 6, 6);
        if (!t.isNull())
            p.drawImage(QRectF(card.left() + 8, card.top() + 8, thumb, thumb), t);
        p.setPen(palette().color(QPalette::ToolTipText));
        for (int k = 0; k < lines.size(); ++k)
            p.drawText(
                QPointF(card.left() + 8, card.top() + 8 + thumb + fm.ascent() + k * fm.height() + (thumb ? 4 : 0)),
                fm.elidedText(lines[k], Qt::ElideMiddle, 360));
    }
    if (pos.isEmpty()) {
        p.setPen(QColor(140, 140, 140));
        p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                   tr("No map yet.\nEmbed the data set (Compute map) to see it here."));
    }
}

QImage ScatterView::renderToImage() {
    const qreal dpr = std::max<qreal>(1.0, devicePixelRatioF());
    QImage img(size() * dpr, QImage::Format_RGB32);
    img.setDevicePixelRatio(dpr);
    QElapsedTimer t;
    t.start();
    paintPoints(img);
    stampSelection(img);
    QPainter p(&img);
    paintOverlays(p);
    p.end();
    m_lastFrameMs = t.nsecsElapsed() / 1e6;
    return img;
}

void ScatterView::paintEvent(QPaintEvent*) {
    QImage img = renderToImage();
    QPainter p(this);
    p.drawImage(0, 0, img);
}

void ScatterView::resizeEvent(QResizeEvent*) {
    // A view nobody zoomed or panned keeps showing all points when its dock or window is resized.
    if ((m_scale == 1.0 || m_fitted) && !m_pos.isEmpty())
        fitToData();
}

void ScatterView::wheelEvent(QWheelEvent* e) {
    const double factor = std::pow(1.0015, e->angleDelta().y());
    const QPointF anchor = toData(e->position());
    m_scale *= factor;
    m_fitted = false;
    // Keep the point under the cursor fixed.
    const QPointF after = toData(e->position());
    m_center += anchor - after;
    userMovedView();
    e->accept();
}

void ScatterView::mousePressEvent(QMouseEvent* e) {
    if (e->button() != Qt::LeftButton)
        return;
    m_dragStart = m_lastMouse = e->position();
    m_dragging = true;
    Tool tool = m_tool;
    if (e->modifiers() & Qt::ShiftModifier)
        tool = Tool::Rectangle;
    if (e->modifiers() & Qt::ControlModifier)
        tool = Tool::Lasso;
    if (tool == Tool::Lasso)
        m_lasso = QPolygonF{e->position()};
    else if (tool == Tool::Rectangle)
        m_rubber = QRectF(e->position(), QSizeF(0.01, 0.01));
}

void ScatterView::mouseMoveEvent(QMouseEvent* e) {
    if (m_dragging) {
        if (!m_lasso.isEmpty())
            m_lasso << e->position();
        else if (!m_rubber.isNull())
            m_rubber.setBottomRight(e->position());
        else {
            QPointF delta = e->position() - m_lastMouse;
            m_center -= QPointF(delta.x() / m_scale, -delta.y() / m_scale);
            m_fitted = false;
            Q_EMIT viewChanged();
        }
        m_lastMouse = e->position();
        update();
        return;
    }
    int h = pointAt(e->position());
    if (h != m_hover) {
        m_hover = h;
        Q_EMIT hovered(h);
        update();
    }
}

void ScatterView::mouseReleaseEvent(QMouseEvent* e) {
    if (!m_dragging || e->button() != Qt::LeftButton)
        return;
    m_dragging = false;
    const bool add = e->modifiers() & Qt::ShiftModifier && m_lasso.isEmpty() && m_rubber.isNull();
    const bool click = (e->position() - m_dragStart).manhattanLength() < 4;
    if (click) {
        m_lasso.clear();
        m_rubber = {};
        int i = pointAt(e->position());
        if (i >= 0) {
            QSet<int> sel = add ? m_selection : QSet<int>{};
            sel.insert(i);
            m_current = i;
            setSelection(sel, true);
            Q_EMIT pointClicked(i);
        }
        update();
        return;
    }
    if (!m_lasso.isEmpty() || !m_rubber.isNull()) {
        const QSet<int> sel = m_lasso.isEmpty() ? m_index.pointsInRect(m_rubber, transform())
                                                : m_index.pointsInLasso(m_lasso, transform());
        m_lasso.clear();
        m_rubber = {};
        setSelection(sel, true);
    }
    update();
}

void ScatterView::leaveEvent(QEvent*) {
    if (m_hover != -1) {
        m_hover = -1;
        Q_EMIT hovered(-1);
        update();
    }
}

void ScatterView::keyPressEvent(QKeyEvent* e) {
    switch (e->key()) {
    case Qt::Key_F:
        fitToData();
        Q_EMIT viewChanged();
        break;
    case Qt::Key_Escape: setSelection({}, true); break;
    case Qt::Key_Plus:
    case Qt::Key_Equal:
        m_scale *= 1.25;
        m_fitted = false;
        userMovedView();
        break;
    case Qt::Key_Minus:
        m_scale /= 1.25;
        m_fitted = false;
        userMovedView();
        break;
    case Qt::Key_Left:
    case Qt::Key_Right:
    case Qt::Key_Up:
    case Qt::Key_Down: {
        // Arrows pan by a tenth of the view.
        const double step = 0.1 * std::min(width(), height()) / std::max(m_scale, 1e-12);
        const int k = e->key();
        m_center += QPointF(k == Qt::Key_Left    ? -step
                            : k == Qt::Key_Right ? step
                                                 : 0.0,
                            k == Qt::Key_Up     ? step
                            : k == Qt::Key_Down ? -step
                                                : 0.0);
        m_fitted = false;
        userMovedView();
        break;
    }
    default: QWidget::keyPressEvent(e);
    }
}

} // namespace vitrine::ui
