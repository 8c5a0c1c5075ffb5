#pragma once
// The embedding map's point index, without a widget: positions on a uniform grid over their
// bounds (counting-sorted into cells, so the points of a cell are contiguous in memory),
// which points are hidden (by category or by a per-point filter), and the queries the map's
// tools ask of it: the nearest visible point under the cursor, and the visible points inside
// a rectangle or a lasso. ScatterView draws and handles events; this class decides which
// points those events reach. The tools work in widget pixels (a pick radius, a dragged
// shape), so the queries take the view's MapTransform.

#include <QPointF>
#include <QPolygonF>
#include <QRectF>
#include <QSet>
#include <QSizeF>
#include <QVector>
#include <algorithm>
#include <cmath>

namespace vitrine::ui {

/// The map's view: widget = (data - center) * scale * (1, -1) + size / 2 (y grows upwards
/// in data units, downwards on screen).
struct MapTransform {
    QPointF center;
    double scale = 1.0; ///< widget pixels per data unit
    QSizeF size;        ///< widget size in pixels

    QPointF toWidget(const QPointF& data) const {
        return {(data.x() - center.x()) * scale + size.width() / 2.0,
                -(data.y() - center.y()) * scale + size.height() / 2.0};
    }
    QPointF toData(const QPointF& widget) const {
        return {(widget.x() - size.width() / 2.0) / scale + center.x(),
                -(widget.y() - size.height() / 2.0) / scale + center.y()};
    }
};

class ScatterIndex {
public:
    /// A point in cell order, with its position and category, so that drawing and
    /// rasterising read memory in sequence instead of jumping through 10^6 indices.
    struct CellPoint {
        QPointF pos;
        int index;
        int category;
    };

    /// Positions in data units; non-finite ones (images that could not be embedded) are
    /// not indexed and so never hit or selected. Rebuilds the grid; categories are reset to
    /// 0 when their count no longer matches.
    void setPositions(const QVector<QPointF>& positions);
    /// Category per point (any int; negative or unknown ones are hidden only when listed).
    void setCategories(const QVector<int>& category);
    void setHiddenCategories(const QSet<int>& hidden) { m_hidden = hidden; }
    void setCategoryVisible(int category, bool visible);
    /// Per point: shown (true) or filtered out; any other size than the point count shows
    /// every point.
    void setPointFilter(const QVector<bool>& shown) { m_shown = shown; }

    const QVector<QPointF>& positions() const { return m_pos; }
    const QVector<int>& categories() const { return m_category; }
    const QSet<int>& hiddenCategories() const { return m_hidden; }
    const QVector<bool>& pointFilter() const { return m_shown; }
    int pointCount() const { return static_cast<int>(m_pos.size()); }
    bool categoryVisible(int category) const { return !m_hidden.contains(category); }
    /// Whether the point filter is in force (its size matches the point count).
    bool filtered() const { return m_shown.size() == m_pos.size(); }
    /// A point is hidden by its category or by the point filter.
    bool isHidden(int point) const {
        return (!m_hidden.isEmpty() && m_hidden.contains(m_category.value(point))) || (filtered() && !m_shown[point]);
    }

    /// Bounds of the finite positions (null when there are none).
    QRectF bounds() const { return m_bounds; }
    /// Whether any point is indexed (some position is finite).
    bool indexed() const { return m_gridN > 0; }
    const QVector<CellPoint>& cellPoints() const { return m_cellPoints; }

    /// Nearest visible point within `radiusPx` widget pixels of `widgetPos`, or -1.
    int pointAt(const QPointF& widgetPos, double radiusPx, const MapTransform& view) const;
    /// The visible points whose widget position lies in `widgetRect` (normalised).
    QSet<int> pointsInRect(const QRectF& widgetRect, const MapTransform& view) const;
    /// The visible points whose widget position lies inside `widgetLasso` (odd-even fill,
    /// as QPolygonF::containsPoint decides it); empty for fewer than 3 vertices.
    QSet<int> pointsInLasso(const QPolygonF& widgetLasso, const MapTransform& view) const;

    /// Calls fn(point) for every indexed point whose grid cell overlaps `dataRect` (a
    /// superset of the points inside); stops early when fn returns false.
    template <class Fn> void forEachInCells(const QRectF& dataRect, Fn&& fn) const {
        forEachCellRun(dataRect, [&](int begin, int end) {
            for (int k = begin; k < end; ++k)
                if (!fn(m_cellPoints[k].index))
                    return false;
            return true;
        });
    }
    /// Calls fn(begin, end) for each run of cellPoints() in the cells overlapping `dataRect`;
    /// stops early when fn returns false.
    template <class Fn> void forEachCellRun(const QRectF& dataRect, Fn&& fn) const {
        int cx0 = 0, cx1 = 0, cy0 = 0, cy1 = 0;
        if (!cellRange(dataRect, cx0, cx1, cy0, cy1))
            return;
        // Cells are stored row by row, so a row's run of cells is one contiguous range of items.
        for (int cy = cy0; cy <= cy1; ++cy)
            if (!fn(m_cellStart[cy * m_gridN + cx0], m_cellStart[cy * m_gridN + cx1 + 1]))
                return;
    }
    /// Points in the grid cells overlapping `dataRect` (an upper bound of those inside).
    qsizetype countInCells(const QRectF& dataRect) const;

private:
    /// The cells (inclusive) overlapping `dataRect`; false when it misses the bounds.
    bool cellRange(const QRectF& dataRect, int& cx0, int& cx1, int& cy0, int& cy1) const;
    void rebuild();
    void syncCellCategories();

    QVector<QPointF> m_pos;
    QVector<int> m_category;
    QSet<int> m_hidden;
    QVector<bool> m_shown; // per point; any other size: all

    // Uniform grid over m_bounds, CSR layout: cell c holds m_cellPoints[m_cellStart[c] ..
    // m_cellStart[c + 1]).
    QRectF m_bounds;
    int m_gridN = 0;
    QVector<int> m_cellStart;
    QVector<CellPoint> m_cellPoints;
};

} // namespace vitrine::ui
