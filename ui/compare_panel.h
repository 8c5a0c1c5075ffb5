#pragma once
// The Compare panel: the current model's embeddings of the open data set against a second
// embeddings file of the same images (.npy / .safetensors / .csv with its rows sidecar, as
// File > Export Embeddings or `vitrine-cli embed` write them) — the same measures as
// `vitrine-cli compare` (core/analysis/compare.h): each image's k-nearest-neighbour overlap,
// the mean per class, and the Procrustes residual of the two PCA maps. Rows are matched by
// their path relative to the data set. The comparison runs on the panel's JobRunner; the
// result lists the images whose neighbourhood changed most (selecting one selects it on the
// map) and colours the map by "neighbourhood change" (1 - overlap).

#include <QString>
#include <QVector>
#include <QWidget>

#include <memory>

class QLabel;
class QPushButton;
class QSpinBox;
class QTreeWidget;

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
class Workspace;

/// What the panel shows of one comparison (GUI-thread data, data set rows).
struct ComparisonView {
    QString otherFile;
    int k = 0;
    int compared = 0;       ///< images in both
    int onlyCurrent = 0;    ///< embedded now, missing from the file
    int onlyOther = 0;      ///< in the file, not (embedded) in the open data set
    double meanOverlap = 0;
    double procrustesResidual = 0;
    double seconds = 0;
    QVector<float> overlap; ///< per data set row; NaN for rows not compared
};

class ComparePanel : public QWidget {
    Q_OBJECT
public:
    /// The score name the map is coloured by.
    static QString scoreName();

    ComparePanel(Workspace* workspace, DatasetModel* dataset, QWidget* parent = nullptr);
    ~ComparePanel() override;

    /// Asks for the other embeddings file (remembering the last folder), then compares.
    void chooseAndCompare();
    /// Compares the current embeddings with `file` on the panel's worker.
    void compareWith(const QString& file);

    bool busy() const;
    JobRunner* runner() const { return m_runner; }
    QTreeWidget* tree() const { return m_tree; }
    QSpinBox* kBox() const { return m_k; }
    QLabel* statusLabel() const { return m_status; }
    /// The last result (null before one).
    const ComparisonView* result() const { return m_result.get(); }
    QString summary() const;

Q_SIGNALS:
    void rowActivated(int row);
    /// Per data set row: 1 - neighbourhood overlap (0 for rows not compared).
    void scoresReady(const QString& name, const QVector<float>& perRow);

private:
    struct Detail; // per compared row: neighbours under one embedding only
    void showResult();

    Workspace* m_workspace;
    DatasetModel* m_dataset;
    JobRunner* m_runner;
    QPushButton* m_choose;
    QPushButton* m_cancel;
    QSpinBox* m_k;
    QLabel* m_summary;
    QTreeWidget* m_tree;
    QLabel* m_status;
    std::shared_ptr<ComparisonView> m_result;
    std::shared_ptr<const std::vector<Detail>> m_details;
};

} // namespace vitrine::ui
