#include "ui/scatter_index.h"

#include <QColor>
#include <QImage>
#include <QPainter>
#include <QPen>
#include <limits>

namespace vitrine::ui {
namespace {
bool finitePoint(const QPointF& p) { return std::isfinite(p.x()) && std::isfinite(p.y()); }
} // namespace

void ScatterIndex::setPositions(const QVector<QPointF>& positions) {
    m_pos = positions;
    if (m_category.size() != m_pos.size())
        m_category = QVector<int>(m_pos.size(), 0);
    rebuild();
}

void ScatterIndex::setCategories(const QVector<int>& category) {
    m_category = category;
    syncCellCategories();
}

void ScatterIndex::setCategoryVisible(int category, bool visible) {
    if (visible)
        m_hidden.remove(category);
    else
        m_hidden.insert(category);
}

void ScatterIndex::rebuild() {
    m_bounds = {};
    m_gridN = 0;
    m_cellStart.clear();
    m_cellPoints.clear();
    if (m_pos.isEmpty())
        return;
    // Points without a position (images that could not be embedded) are NaN: not drawn, not
    // indexed.
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const QPointF& p : m_pos) {
        if (!finitePoint(p))
            continue;
        x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x());
        y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
    if (!std::isfinite(x0))
        return;
    m_bounds = QRectF(QPointF(x0, y0), QPointF(x1, y1));
    m_gridN = std::clamp(int(std::sqrt(m_pos.size() / 4.0)), 1, 512);
    const int cells = m_gridN * m_gridN;
    auto cellOf = [&](const QPointF& p) {
        int cx = std::clamp(int((p.x() - x0) / std::max(x1 - x0, 1e-12) * m_gridN), 0, m_gridN - 1);
        int cy = std::clamp(int((p.y() - y0) / std::max(y1 - y0, 1e-12) * m_gridN), 0, m_gridN - 1);
        return cy * m_gridN + cx;
    };
    // Counting sort into cells (CSR layout).
    m_cellStart = QVector<int>(cells + 1, 0);
    for (const QPointF& p : m_pos)
        if (finitePoint(p))
            ++m_cellStart[cellOf(p) + 1];
    for (int c = 0; c < cells; ++c)
        m_cellStart[c + 1] += m_cellStart[c];
    m_cellPoints = QVector<CellPoint>(m_cellStart[cells]);
    QVector<int> fill = m_cellStart;
    for (int i = 0; i < m_pos.size(); ++i)
        if (finitePoint(m_pos[i]))
            m_cellPoints[fill[cellOf(m_pos[i])]++] = CellPoint{m_pos[i], i, m_category.value(i)};
}

void ScatterIndex::syncCellCategories() {
    for (CellPoint& p : m_cellPoints)
        p.category = m_category.value(p.index);
}

bool ScatterIndex::cellRange(const QRectF& r, int& cx0, int& cx1, int& cy0, int& cy1) const {
    if (m_gridN == 0 || r.right() < m_bounds.left() || r.left() > m_bounds.right() || r.bottom() < m_bounds.top() ||
        r.top() > m_bounds.bottom())
        return false;
    const double cw = std::max(m_bounds.width(), 1e-12) / m_gridN, ch = std::max(m_bounds.height(), 1e-12) / m_gridN;
    auto cell = [&](double v, double origin, double size) {
        return int(std::clamp(std::floor((v - origin) / size), 0.0, double(m_gridN - 1)));
    };
    cx0 = cell(r.left(), m_bounds.left(), cw), cx1 = cell(r.right(), m_bounds.left(), cw);
    cy0 = cell(r.top(), m_bounds.top(), ch), cy1 = cell(r.bottom(), m_bounds.top(), ch);
    return true;
}

qsizetype ScatterIndex::countInCells(const QRectF& r) const {
    qsizetype n = 0;
    forEachCellRun(r, [&](int begin, int end) {
        n += end - begin;
        return true;
    });
    return n;
}

int ScatterIndex::pointAt(const QPointF& widgetPos, double radiusPx, const MapTransform& view) const {
    if (m_gridN == 0)
        return -1;
    const QPointF d = view.toData(widgetPos);
    const double r = radiusPx / view.scale;
    const double x0 = m_bounds.left(), y0 = m_bounds.top();
    const double cw = std::max(m_bounds.width(), 1e-12) / m_gridN, ch = std::max(m_bounds.height(), 1e-12) / m_gridN;
    int cx0 = std::clamp(int((d.x() - r - x0) / cw), 0, m_gridN - 1),
        cx1 = std::clamp(int((d.x() + r - x0) / cw), 0, m_gridN - 1);
    int cy0 = std::clamp(int((d.y() - r - y0) / ch), 0, m_gridN - 1),
        cy1 = std::clamp(int((d.y() + r - y0) / ch), 0, m_gridN - 1);
    int best = -1;
    double bestD = r * r;
    for (int cy = cy0; cy <= cy1; ++cy)
        for (int cx = cx0; cx <= cx1; ++cx) {
            const int c = cy * m_gridN + cx;
            for (int k = m_cellStart[c]; k < m_cellStart[c + 1]; ++k) {
                const int i = m_cellPoints[k].index;
                if (isHidden(i))
                    continue;
                const QPointF v = m_pos[i] - d;
                const double dd = v.x() * v.x() + v.y() * v.y();
                if (dd <= bestD) {
                    bestD = dd;
                    best = i;
                }
            }
        }
    return best;
}

QSet<int> ScatterIndex::pointsInRect(const QRectF& widgetRect, const MapTransform& view) const {
    QSet<int> sel;
    const QRectF rect = widgetRect.normalized();
    const QRectF dataBox = QRectF(view.toData(rect.topLeft()), view.toData(rect.bottomRight())).normalized();
    forEachInCells(dataBox, [&](int i) {
        if (!isHidden(i) && rect.contains(view.toWidget(m_pos[i])))
            sel.insert(i);
        return true;
    });
    return sel;
}

QSet<int> ScatterIndex::pointsInLasso(const QPolygonF& lasso, const MapTransform& view) const {
    QSet<int> sel;
    if (lasso.isEmpty())
        return sel;
    const QRectF box = lasso.boundingRect();
    const QRectF dataBox = QRectF(view.toData(box.topLeft()), view.toData(box.bottomRight())).normalized();
    // The lasso is rasterised once: inside (255), outside (0), and a band a few pixels
    // wide along its edges (128) where the exact polygon test decides. A point more than
    // the band's half-width from every edge lies on the same side as its pixel's centre,
    // so the answer equals QPolygonF::containsPoint for every point, at a pixel lookup each.
    const QRect maskRect = box.toAlignedRect().adjusted(-3, -3, 3, 3);
    QImage mask(maskRect.size(), QImage::Format_RGB32);
    mask.fill(Qt::black);
    {
        QPainter mp(&mask);
        mp.translate(-maskRect.topLeft());
        mp.setPen(Qt::NoPen);
        mp.setBrush(QColor(255, 255, 255));
        mp.drawPolygon(lasso, Qt::OddEvenFill);
        mp.setPen(QPen(QColor(128, 128, 128), 4));
        mp.setBrush(Qt::NoBrush);
        mp.drawPolygon(lasso);
    }
    forEachInCells(dataBox, [&](int i) {
        if (isHidden(i))
            return true;
        const QPointF w = view.toWidget(m_pos[i]);
        const int x = int(std::floor(w.x())) - maskRect.left(), y = int(std::floor(w.y())) - maskRect.top();
        if (x < 0 || y < 0 || x >= mask.width() || y >= mask.height())
            return true;
        const int v = qRed(reinterpret_cast<const QRgb*>(mask.constScanLine(y))[x]);
        if (v == 255 || (v != 0 && lasso.containsPoint(w, Qt::OddEvenFill)))
            sel.insert(i);
        return true;
    });
    return sel;
}

} // namespace vitrine::ui
