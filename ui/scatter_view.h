#pragma once
// The embedding map's scatter plot: custom painting straight into an image buffer
// (no item per point), so pan, zoom and hover stay interactive with 10^6 points: above
// kRasterMinPoints a density raster (count and mean colour per data-space bin, a pyramid
// of resolutions built once per change of positions or colours) is drawn per screen pixel
// while many points are in view, and only the points of the grid cells in view are
// stamped when zoomed in.
// Colour by any categorical value with per-category visibility, hover tooltips with
// thumbnails, click / rectangle / lasso selection, thumbnails instead of dots at high
// zoom, and animated transitions between layouts (live training).

#include <QColor>
#include <QElapsedTimer>
#include <QImage>
#include <QPointF>
#include <QPolygonF>
#include <QSet>
#include <QTimer>
#include <QVector>
#include <QWidget>

#include <functional>

#include "ui/scatter_index.h"

namespace vitrine::ui {

class ThumbnailCache;

class ScatterView : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Pan, Rectangle, Lasso };

    explicit ScatterView(QWidget* parent = nullptr);

    /// Sets point positions (data units). With `animate`, points glide from their old
    /// places when the count is unchanged. Resets the view only when asked.
    void setPositions(const QVector<QPointF>& positions, bool animate = false, bool fitView = true);
    /// Category per point (index into palette), names and colours per category.
    void setCategories(const QVector<int>& category, const QStringList& names, const QVector<QColor>& palette);
    void setCategoryVisible(int category, bool visible);
    bool categoryVisible(int category) const { return m_index.categoryVisible(category); }
    /// Per point: shown (true) or filtered out (a score's range filter); empty shows every
    /// point. Filtered points are neither drawn nor hovered, clicked or lassoed, as hidden
    /// categories are.
    void setPointFilter(const QVector<bool>& shown);
    const QVector<bool>& pointFilter() const { return m_index.pointFilter(); }
    /// A point is hidden by its category or by the point filter.
    bool isHidden(int point) const { return m_index.isHidden(point); }
    /// Optional per-point outline marks (e.g. wrong-class nearest neighbour).
    void setMarked(const QVector<bool>& marked);
    /// Image path per point for hover/zoom thumbnails (empty = none).
    void setImagePaths(const QStringList& paths, ThumbnailCache* cache);
    /// Extra hover text per point (class, path…).
    void setLabels(const QStringList& labels);

    void setSelection(const QSet<int>& points, bool emitSignal = false);
    const QSet<int>& selection() const { return m_selection; }
    void setCurrent(int point); ///< the point followed by other panels (ring)
    int current() const { return m_current; }
    /// A point hovered on a linked map (Compare's second map): drawn with a dashed ring here,
    /// -1 for none. Emits nothing.
    void setLinkedHover(int point);
    int linkedHover() const { return m_linkedHover; }
    /// The colouring setCategories() gave (so a second map can be coloured the same way).
    const QVector<int>& categories() const { return m_index.categories(); }
    const QStringList& categoryNames() const { return m_categoryNames; }
    const QVector<QColor>& categoryPalette() const { return m_palette; }
    /// Takes `other`'s colouring, hidden categories and point filter (same point count;
    /// Compare's second map follows the main map's). Emits nothing.
    void copyColoursFrom(const ScatterView& other);
    /// The data rectangle the widget shows, and showing one (as large as fits, centred);
    /// showDataRect() emits nothing, so two maps can follow each other's viewChanged().
    QRectF visibleDataRect() const;
    void showDataRect(const QRectF& rect);
    void setTool(Tool tool) { m_tool = tool; }
    Tool tool() const { return m_tool; }

    void fitToData();
    int pointCount() const { return static_cast<int>(m_pos.size()); }
    /// Nearest visible point within `radiusPx` of a widget position, or -1.
    int pointAt(const QPointF& widgetPos, double radiusPx = 8.0) const;
    QPointF toWidget(const QPointF& data) const;
    QPointF toData(const QPointF& widget) const;
    /// Milliseconds the last full repaint took (points + overlays).
    double lastFrameMs() const { return m_lastFrameMs; }
    /// Whether the last frame drew the density raster (true) or individual points.
    bool lastFrameWasRaster() const { return m_lastFrameRaster; }
    /// Maps with at least this many points draw a density raster when zoomed out and do
    /// not animate between layouts.
    static constexpr int kRasterMinPoints = 200000;
    /// Renders a frame into an image of the widget's size (tests, export).
    QImage renderToImage();

Q_SIGNALS:
    void pointClicked(int point);
    void selectionChanged(const QSet<int>& points);
    void hovered(int point);
    /// The user panned or zoomed (wheel, drag, keys, F).
    void viewChanged();
    /// Colours, hidden categories or the point filter changed.
    void coloursChanged();

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    void paintPoints(QImage& target);
    void paintOverlays(QPainter& p);
    void rebuildDensity();
    void paintDensity(QImage& target, double binPx);
    void stampSelection(QImage& target);
    void coloursEdited();
    bool animating() const { return m_anim < 1.0 && m_from.size() == m_pos.size(); }
    MapTransform transform() const;
    void animationStep();
    void userMovedView();
    QVector<QPointF> displayPositions() const;

    QVector<QPointF> m_pos;  // target positions
    QVector<QPointF> m_from; // animation start
    double m_anim = 1.0;     // 0..1
    QElapsedTimer m_animClock;
    QTimer m_animTimer;
    /// The grid over m_pos, categories, hidden categories and the point filter: what the
    /// hover, click, rectangle and lasso reach (ui/scatter_index.h).
    ScatterIndex m_index;
    QStringList m_categoryNames;
    QVector<QColor> m_palette;
    QVector<bool> m_marked;
    QStringList m_paths;
    QStringList m_labels;
    ThumbnailCache* m_thumbs = nullptr;
    QSet<int> m_selection;
    QVector<char> m_selectedMask; ///< per point, for large selections (stamped in cell order)
    int m_current = -1;
    int m_hover = -1;
    int m_linkedHover = -1;
    Tool m_tool = Tool::Pan;

    // view: widget = (data - m_center) * m_scale * (1, -1) + size/2
    QPointF m_center;
    double m_scale = 1.0;
    bool m_fitted = false; ///< the view shows all points as fitToData() left it (not zoomed or panned since)
    QPointF m_dragStart;
    QPointF m_lastMouse;
    bool m_dragging = false;
    QPolygonF m_lasso;
    QRectF m_rubber;

    // Density raster: level 0 has kDensityBins^2 bins over m_index.bounds(), each next level half
    // as many per side; colour per bin already blended over the background by log count.
    struct DensityLevel {
        int bins = 0;
        QVector<QRgb> colour;
    };
    QVector<DensityLevel> m_density;
    bool m_densityDirty = true;
    QRgb m_densityBase = 0; ///< background the bin colours were blended over

    double m_lastFrameMs = 0;
    bool m_lastFrameRaster = false;
};

/// A qualitative palette with n distinguishable colours (Tableau-like, then hue steps).
QVector<QColor> categoricalPalette(int n);

} // namespace vitrine::ui
