#pragma once
#include <QMap>
#include <QVector>
// The Embedding map panel: the scatter view, its legend (toggle classes), colouring
// (class at any level, or whether the nearest neighbour shares the class), projection
// choice and parameters, a Compute button with progress, and the training timeline.

#include <QWidget>

class QAction;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QListWidget;
class QPushButton;
class QSlider;
class QSpinBox;
class QToolButton;

namespace vitrine::ui {

class DatasetModel;
class ScatterView;
class ThumbnailCache;
class Workspace;
struct ProjectionSettings;

class MapPanel : public QWidget {
    Q_OBJECT
public:
    MapPanel(Workspace* workspace, DatasetModel* dataset, ThumbnailCache* thumbs, QWidget* parent = nullptr);

    ScatterView* view() const { return m_view; }
    QPushButton* computeButton() const { return m_compute; }
    QToolButton* legendToggle() const { return m_legendToggle; }
    QListWidget* legend() const { return m_legend; }
    QSlider* timeline() const { return m_timeline; }
    ProjectionSettings settings() const;
    /// Refreshes colours and labels from the data set model (class level changes).
    void refreshColours();
    /// A score per data set row (the audit's mislabel and outlier scores in [0, 1], duplicate
    /// counts, distances to the class centre) that the map can be coloured by
    /// ("Colour: <name>"), in five equal bands over [min(0, lowest), max(1, highest)] whose
    /// legend entries filter the points.
    void setRowScores(const QString& name, const QVector<float>& perRow);
    QComboBox* colourBy() const { return m_colourBy; }
    /// Colours the map by the score called `name` (one given to setRowScores).
    void showScores(const QString& name);
    /// The score the map is coloured by ("" when coloured by class) and its values per row.
    QString currentScoreName() const;
    QVector<float> scores(const QString& name) const { return m_scores.value(name); }
    /// The per-image attention statistics the colour menu offers (computed on demand by the
    /// Workspace the first time one is chosen, then kept until the model or data set changes).
    static QStringList attentionScoreNames();
    QProgressBar* statisticsProgress() const { return m_statsProgress; }
    /// The range filter shown while the map is coloured by a score: points whose score lies
    /// outside [from, to] are hidden (and cannot be hovered or selected).
    QDoubleSpinBox* rangeFrom() const { return m_rangeFrom; }
    QDoubleSpinBox* rangeTo() const { return m_rangeTo; }
    /// Points the range filter and the legend leave on the map.
    int shownPointCount() const;
    /// Actions offered by the map's context menu (right click), before its own.
    void setContextActions(const QList<QAction*>& actions) { m_contextActions = actions; }
    const QList<QAction*>& contextActions() const { return m_contextActions; }

Q_SIGNALS:
    void rowActivated(int row);
    void rowsSelected(const QList<int>& rows);

public:
    void showLayout(bool animate);
    void updateInfo();

private:
    void showHistory(int index);
    void showContextMenu(const QPoint& pos);
    void colourChoiceChanged();
    void applyRangeFilter();
    void resetRange(bool keepIfInside);
    void clearAttentionScores();

    Workspace* m_workspace;
    DatasetModel* m_dataset;
    ThumbnailCache* m_thumbs;
    ScatterView* m_view;
    QComboBox* m_method;
    QComboBox* m_colourBy;
    QMap<QString, QVector<float>> m_scores;
    QDoubleSpinBox* m_perplexity;
    QSpinBox* m_neighbours;
    QPushButton* m_compute;
    QListWidget* m_legend;
    QToolButton* m_legendToggle = nullptr;
    QSlider* m_timeline;
    QLabel* m_timelineLabel;
    QLabel* m_info;
    QWidget* m_statsRow = nullptr;
    QProgressBar* m_statsProgress = nullptr;
    QLabel* m_statsNote = nullptr;
    QWidget* m_rangeRow = nullptr;
    QDoubleSpinBox* m_rangeFrom = nullptr;
    QDoubleSpinBox* m_rangeTo = nullptr;
    QLabel* m_rangeCount = nullptr;
    bool m_labelsValid = false; ///< the view's hover texts and image paths match the data set
    int m_labelledPoints = -1;
    QString m_rangeScore; ///< the score the range spin boxes are set up for
    bool m_followLive = true;
    QList<QAction*> m_contextActions;
};

} // namespace vitrine::ui
