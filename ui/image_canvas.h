#pragma once
// Shows one rendered view (QImage) scaled to fit, maps the mouse to the model's patch
// grid, and reports hovered/clicked patches. Purely visual; the Inspector renders.

#include <QImage>
#include <QWidget>

namespace vitrine::ui {

class ImageCanvas : public QWidget {
    Q_OBJECT
public:
    explicit ImageCanvas(QWidget* parent = nullptr);
    /// `image` is the S x S view; `grid` the model's patch grid side (0 = none).
    void setImage(const QImage& image, int grid);
    const QImage& image() const { return m_image; }
    void setCaption(const QString& caption);
    /// Draws the patch grid at screen resolution (thin lines however small the model input).
    void setGridVisible(bool on);
    void setHoverText(const QString& text);
    int hoveredPatch() const { return m_hover; }
    /// The patch under a widget position, or -1.
    int patchAtWidget(const QPointF& pos) const;
    QRectF imageRect() const;
    QSize sizeHint() const override { return {420, 420}; }

Q_SIGNALS:
    void patchHovered(int patch);
    void patchClicked(int patch);

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;

private:
    QImage m_image;
    int m_grid = 0;
    int m_hover = -1;
    bool m_showGrid = false;
    QString m_caption;
    QString m_hoverText;
};

} // namespace vitrine::ui
