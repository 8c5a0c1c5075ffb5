#pragma once
// A small live line chart for training curves: several series against step,
// optional horizontal reference lines (e.g. the margin), hover read-out, and export
// to PNG and CSV. Painted directly; appending a point costs O(1).

#include <QColor>
#include <QPointF>
#include <QString>
#include <QVector>
#include <QWidget>

namespace vitrine::ui {

class LineChart : public QWidget {
    Q_OBJECT
public:
    explicit LineChart(const QString& title, QWidget* parent = nullptr);

    int addSeries(const QString& name, const QColor& color);
    void append(int series, double x, double y);
    void setReferenceLine(const QString& name, double y, const QColor& color);
    void clear();
    int seriesCount() const { return static_cast<int>(m_series.size()); }
    const QVector<QPointF>& points(int series) const { return m_series[series].points; }
    void setLogY(bool on);

    bool savePng(const QString& file);
    bool saveCsv(const QString& file) const;
    QString toCsv() const;

    QSize sizeHint() const override { return {320, 180}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;
    void contextMenuEvent(QContextMenuEvent*) override;

private:
    struct Series {
        QString name;
        QColor color;
        QVector<QPointF> points;
    };
    struct Reference {
        QString name;
        double y;
        QColor color;
    };
    QRectF plotRect() const;
    void bounds(double& x0, double& x1, double& y0, double& y1) const;

    QString m_title;
    QVector<Series> m_series;
    QVector<Reference> m_refs;
    double m_hoverX = -1;
    bool m_logY = false;
};

} // namespace vitrine::ui
