#pragma once
// The Compare panel: the current model's embeddings of the open data set against a second
// embedding of the same images — an embeddings file (.npy / .safetensors / .csv with its rows
// sidecar, as File > Export Embeddings or `vitrine-cli embed` write them), or another model
// or checkpoint (a bundled model, a .safetensors/.pt/.pth file, one of the training run's
// checkpoints), which the panel embeds the data set with first (Workspace::embedWithModel,
// the map's own embedding job). The measures are `vitrine-cli compare`'s
// (core/analysis/compare.h): each image's k-nearest-neighbour overlap, the mean per class,
// and the Procrustes residual of the two maps. Rows are matched by their path relative to
// the data set. Everything runs on the panel's JobRunner (progress bar, Cancel).
//
// The result: the second embedding's map, projected like the main map and aligned onto it
// (orthogonal Procrustes on the common rows), shown in the panel; selecting or hovering
// points on either map selects or rings the same images on the other (points are data set
// rows on both). The list of images, most changed first, selects an image on both maps, and
// the main map is coloured by "neighbourhood change" (1 - overlap).

#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QWidget>

#include <functional>
#include <memory>

class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QSplitter;
class QTreeWidget;

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
class ScatterView;
class ThumbnailCache;
class Workspace;

/// What the panel shows of one comparison (GUI-thread data, data set rows).
struct ComparisonView {
    QString otherFile; ///< the embeddings file, or the model's spec (path or bundled name)
    bool otherIsModel = false;
    QString otherName; ///< how the panel names it (file name, or the model's description)
    int k = 0;
    int compared = 0;    ///< images in both
    int onlyCurrent = 0; ///< embedded now, missing from the file
    int onlyOther = 0;   ///< in the file, not (embedded) in the open data set
    double meanOverlap = 0;
    double procrustesResidual = 0;
    double seconds = 0;
    QVector<float> overlap; ///< per data set row; NaN for rows not compared
    /// Per data set row: the second embedding's map aligned onto the main map's frame
    /// (NaN for rows not compared).
    QVector<QPointF> otherLayout;
    bool alignedToMainMap = false; ///< false: the main map had no layout yet, aligned to a PCA map
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
    /// Opens the "Compare With" menu under its button (model, checkpoint, bundled model,
    /// embeddings file); does not wait.
    void popupSourceMenu();
    /// Asks for a model checkpoint (.safetensors / .pt / .pth), then compareWithModel().
    void chooseModelAndCompare();
    /// Embeds the data set with `spec` ("default", a bundled model's name, or a checkpoint
    /// path) on the panel's worker, then compares the current embeddings with that.
    void compareWithModel(const QString& spec);
    /// Where the menu finds the training run's checkpoints (paths, newest first).
    void setRunCheckpoints(std::function<QStringList()> list) { m_runCheckpoints = std::move(list); }
    /// Links the second map with the main map: selection and hover follow both ways, and the
    /// second map takes the main map's colours; `thumbs` (optional) gives its hover cards and
    /// zoomed-in points the images.
    void setLinkedMap(ScatterView* mainMap, ThumbnailCache* thumbs = nullptr);
    /// The image in view elsewhere (the data set's current row): ringed on the second map.
    void setCurrentRow(int row);

    bool busy() const;
    JobRunner* runner() const { return m_runner; }
    QTreeWidget* tree() const { return m_tree; }
    ScatterView* otherMap() const { return m_otherMap; }
    QProgressBar* progressBar() const { return m_progress; }
    QMenu* sourceMenu() const { return m_menu; }
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
    bool readyToCompare();
    struct Detail; // per compared row: neighbours under one embedding only
    struct Source; // what the current embeddings are compared with
    void start(const Source& source);
    void showResult();
    void showOtherMap();
    void fillMenu();

    Workspace* m_workspace;
    DatasetModel* m_dataset;
    JobRunner* m_runner;
    QPushButton* m_choose;
    QMenu* m_menu;
    QProgressBar* m_progress;
    ScatterView* m_otherMap;
    QLabel* m_otherCaption;
    QSplitter* m_split;
    bool m_splitSized = false;
    ScatterView* m_mainMap = nullptr;
    ThumbnailCache* m_thumbs = nullptr;
    std::function<QStringList()> m_runCheckpoints;
    bool m_startedModel = false; ///< the running or last job compares with a model (not a file)
    QPushButton* m_cancel;
    QSpinBox* m_k;
    QLabel* m_summary;
    QTreeWidget* m_tree;
    QLabel* m_status;
    std::shared_ptr<ComparisonView> m_result;
    std::shared_ptr<const std::vector<Detail>> m_details;
};

} // namespace vitrine::ui
