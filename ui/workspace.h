#pragma once
// The explorer's shared state and its workers: the current model, the data set's
// embeddings, the 2-D layout and the neighbour index. Panels ask; the Workspace runs
// the torch and analysis work on its JobRunners and announces results. Live training
// pushes weight snapshots here; the views refresh without ever blocking training.
// Torch-free header: the model lives behind an opaque handle in workspace.cpp.

#include <QElapsedTimer>
#include <QObject>
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>

#include <map>
#include <memory>
#include <optional>

#include "core/analysis/neighbours.h"
#include "core/analysis/projection.h"
#include "core/common/matrix.h"
#include "core/common/matrix_view.h"
#include "core/io/row_table.h"
#include "ui/job_runner.h"
#include "ui/neighbours_panel.h"

namespace vitrine::core::analysis {
struct InspectionResult;
}
namespace vitrine::core::data {
class Dataset;
}
namespace at {
class Tensor;
}

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
struct InspectJob;

using ProjectionMethod = core::analysis::ProjectionMethod;

struct ProjectionSettings {
    ProjectionMethod method = ProjectionMethod::Pca;
    double perplexity = 30;
    int iterations = 750;
    int umapNeighbours = 15;
    double minDist = 0.1;
    unsigned seed = 0;
};

/// A data set embedded by some model (what computeEmbeddings computes, and what Compare
/// computes with a second model).
struct DatasetEmbeddings {
    core::Matrix embeddings; ///< [embedded images, D] float32, as the model returns them
    QVector<int> rowOf;      ///< data set row -> embedding row (-1: the image could not be embedded)
    QString description;     ///< the model, as the status bar names it
};

/// Weights by timm name (CPU float32), as Trainer::snapshotState() returns them.
using WeightSnapshot = std::shared_ptr<const std::map<std::string, at::Tensor>>;

class Workspace : public QObject {
    Q_OBJECT
public:
    explicit Workspace(DatasetModel* dataset, QObject* parent = nullptr);
    ~Workspace() override;

    /// "default", a preset name, or a .safetensors path; loads in a worker, then re-embeds.
    void setModel(const QString& spec, int imageSize = 0);
    QString modelSpec() const { return m_spec; }
    QString modelDescription() const { return m_description; }

    /// Embeds every image of the data set with the current model (worker).
    void computeEmbeddings();
    /// Projects the embeddings to 2-D (worker); `continuous` starts from the current layout.
    void computeLayout(const ProjectionSettings& settings, bool continuous = false);
    void setProjectionSettings(const ProjectionSettings& s) { m_projection = s; }
    const ProjectionSettings& projectionSettings() const { return m_projection; }

    /// Worker side of computeEmbeddings() with a model instance of its own, for a second model
    /// (Compare): loads `spec` ("default", a preset name, or a .safetensors/.pt/.pth path) at
    /// `imageSize` (0 = the model's own) and embeds every image of `dataset`. Call it on a
    /// JobRunner; throws core::Error for a model that cannot be read and core::Cancelled.
    static DatasetEmbeddings embedWithModel(const QString& spec, int imageSize, const core::data::Dataset& dataset,
                                            const JobRunner::Context& ctx);
    /// Worker side of computeLayout(): `data` ([N, D] float32) -> [N, 2] float32 with the
    /// method and parameters of `settings`; `previous` ([N, 2], optional) continues a layout.
    /// No method copies the view (a memory-mapped file stays on disk); above
    /// NeighbourOptions::faissAbove rows t-SNE and UMAP take their neighbour graph from a
    /// FAISS IVF index (minutes at 10^6 rows, with progress and Cancel).
    static core::Matrix projectLayout(const core::MatrixView& data, const ProjectionSettings& settings,
                                      const core::Matrix* previous, const JobRunner::Context& ctx);
    /// From this many embeddings on, a file's first map is PCA (t-SNE and UMAP stay a choice
    /// in the map panel) and the extras computed after a projection (the neighbour index and
    /// each row's nearest-neighbour class) are skipped: at 10^6 rows they take minutes and
    /// gigabytes the map does not need.
    static constexpr std::int64_t kLargeRows = 200000;

    /// Shows embeddings computed elsewhere (an embeddings file, memory-mapped): one row of
    /// `embeddings` ([N, D] float32) per data set row, in order; no model is involved.
    /// Projects them with the current settings (PCA first above kLargeRows) on the Map worker.
    /// `rowOf`: data set row -> embedding row. `file`: where they were read from. From
    /// kLargeRows rows on, once the first map is drawn, the Map worker loads the FAISS IVF
    /// index saved beside it ("<file>.faiss", core::analysis::faissIndexPath) when it matches
    /// the file, or builds it (minutes at 10^6 rows, with progress and Cancel) and saves it
    /// there for the next time; the Neighbours panel then queries it instead of scanning
    /// every row. A newer map request cancels that build and it starts again after the map.
    void setEmbeddings(core::MatrixView embeddings, const QVector<int>& rowOf, const QString& description,
                       const QString& file = {});
    /// The index the Neighbours panel queries (null: exact search over the embeddings).
    std::shared_ptr<const core::analysis::NeighbourIndex> neighbourIndex() const { return m_index; }
    /// What the last projection left out, for the map's info line (empty: nothing).
    QString analysisNote() const { return m_analysisNote; }
    /// The map panel's settings as core's projection request (the one `vitrine-cli project` builds).
    static core::analysis::ProjectionRequest projectionRequest(const ProjectionSettings& settings);
    int imageSize() const { return m_imageSize; }

    /// Neighbours of a data set row, or of an image file (embedded on the fly).
    void requestNeighbours(int row, int k, bool cosine);
    void requestNeighboursOfFile(const QString& path, int k, bool cosine);

    /// One image / two images / one image under two checkpoints, for the Inspector.
    void requestInspection(int row);
    void requestPairInspection(int rowA, int rowB);
    void requestCheckpointComparison(int row, const QString& checkpointA, const QString& checkpointB);

    /// Live training: new weights for the views. Re-embeds, re-projects with continuity,
    /// refreshes neighbours and the Inspector. Snapshots that arrive while a refresh runs
    /// replace each other (only the newest is used).
    void applyWeights(WeightSnapshot weights, qint64 step, const QString& spec, int imageSize);

    /// Per image of the data set, with the current model (and live weights while training):
    /// the class token's attention entropy, the rollout's concentration and the count of
    /// high-norm tokens (core::analysis::computeAttentionStatistics), on a worker of its own
    /// with progress and Cancel. attentionStatisticsReady() brings them; a newer request
    /// replaces a running one.
    void computeAttentionStatistics();
    JobRunner* statisticsRunner() const { return m_stats; }

    /// The embedded images of the data set, for a job that works from the embeddings (audit,
    /// comparison): their embeddings copied in data set order, a (path, label) row table with
    /// the label at the current class level and the path absolute or as the exporters write
    /// it (relative to the data set), and each one's data set row.
    struct EmbeddedRows {
        std::shared_ptr<core::Matrix> embeddings;
        std::shared_ptr<core::io::RowTable> table;
        QVector<int> toDataset;
    };
    EmbeddedRows embeddedRows(bool absolutePaths) const;

    /// [N, D] float32, owned (computed here) or memory-mapped (setEmbeddings).
    const core::MatrixView& embeddings() const { return m_embeddings; }
    /// The embeddings copied into memory (for writers that take a Matrix).
    core::Matrix embeddingsCopy() const;
    /// Data set row -> embedding row (-1 when the image could not be embedded).
    const QVector<int>& embeddingRowOf() const { return m_rowToEmbedding; }
    /// Per data set row; NaN for rows without an embedding.
    const QVector<QPointF>& layout() const { return m_layout; }
    /// Per data set row: does its nearest neighbour share its class (at the current level)?
    const QVector<bool>& nearestSameClass() const { return m_nnSame; }
    /// Recomputes nearestSameClass() for the data set's current class level (the nearest
    /// neighbours themselves do not change with the level).
    void refreshNearestSameClass();
    /// Layout history for the timeline (step, layout per data set row).
    const QVector<QPair<qint64, QVector<QPointF>>>& history() const { return m_history; }
    JobRunner* engineRunner() const { return m_engine; }
    JobRunner* analysisRunner() const { return m_analysis; }
    JobRunner* inspectRunner() const { return m_inspect; }
    bool hasEmbeddings() const { return !m_embeddings.empty(); }
    int lastInspectedRow() const { return m_inspectedRow; }
    /// Blocks (processing events) until all runners are idle; tests.
    bool waitForIdle(int timeoutMs);

Q_SIGNALS:
    void modelChanged(const QString& description, const QStringList& warnings);
    /// The CPU, the precision chosen for it, the kernels and threads (core::computeSummary()),
    /// measured on a worker the first time a model runs.
    void computeSummaryChanged(const QString& summary);
    void embeddingsChanged();
    void layoutChanged(bool animate);
    void analysisNoteChanged();
    void neighboursReady(const QString& title, const QString& queryPath, int queryRow,
                         const QVector<NeighbourItem>& items);
    void inspectionReady(std::shared_ptr<const core::analysis::InspectionResult> result, const QString& title);
    void pairInspectionReady(std::shared_ptr<const core::analysis::InspectionResult> a, const QString& titleA,
                             std::shared_ptr<const core::analysis::InspectionResult> b, const QString& titleB,
                             bool checkpoints);
    /// Per data set row (NaN where the image could not be read); `note` says which model (and
    /// training step) they come from and how many images failed.
    void attentionStatisticsReady(const QVector<float>& classEntropy, const QVector<float>& rolloutConcentration,
                                  const QVector<float>& highNormTokens, const QString& note);
    void message(const QString& text);
    void error(const QString& text);

private:
    struct Engine; // the models (torch), used only on worker threads
    void startEmbedding(bool live, qint64 step);
    void startAnalysis(bool live, qint64 step);
    /// The neighbour index of a large embeddings file (see setEmbeddings), on the Map worker.
    void startLargeIndex();
    /// Starts a map now, or (cancelling what the Map worker runs) when it is idle.
    void queueLayout(bool continuous);
    void runPendingInspection();
    QVector<NeighbourItem> toItems(const std::vector<core::analysis::Neighbour>& hits, int queryRow) const;
    QString titleOf(int row) const;
    InspectJob inspectJob() const; ///< what the next inspection runs, for its worker

    DatasetModel* m_dataset;
    JobRunner* m_engine;   // model load + embedding
    JobRunner* m_analysis; // projection + neighbour index
    JobRunner* m_inspect;  // inspection and single-image queries
    JobRunner* m_stats;    // attention statistics of the whole data set
    std::shared_ptr<Engine> m_embedEngine;
    std::shared_ptr<Engine> m_inspectEngine;
    std::shared_ptr<Engine> m_statsEngine;
    bool m_statsQueued = false;
    QString m_spec = QStringLiteral("default");
    int m_imageSize = 0;
    QString m_description;
    QElapsedTimer m_mapTimer; ///< from a (non-live) embedding's start to its map being drawn
    ProjectionSettings m_projection;

    core::MatrixView m_embeddings; // shares its storage with the workers that read it
    QString m_analysisNote;
    bool m_fromFile = false;  ///< the embeddings came from setEmbeddings(), not the model
    QString m_embeddingsFile; ///< the file setEmbeddings() was given (empty: none)
    QVector<int> m_rowToEmbedding;
    QVector<int> m_embeddingToRow;
    std::shared_ptr<const core::analysis::NeighbourIndex> m_index;
    QVector<QPointF> m_layout;
    QVector<bool> m_nnSame;
    QVector<int> m_nnRow; ///< each row's nearest other row in embedding space (-1: none)
    QVector<QPair<qint64, QVector<QPointF>>> m_history;

    // Latest-wins queues for work that arrives while a runner is busy.
    WeightSnapshot m_pendingWeights;
    WeightSnapshot m_liveWeights;
    qint64 m_pendingStep = 0;
    std::function<void()> m_pendingInspection;
    std::function<void()> m_pendingNeighbours;
    bool m_embedQueued = false;
    std::optional<bool> m_layoutQueued; ///< a map asked for while the Map worker stopped (continuous?)
    bool m_indexQueued = false;         ///< startLargeIndex() once the Map worker is idle
    bool m_indexRunning = false;        ///< the Map worker is building (or loading) that index
    int m_inspectedRow = -1;
    qint64 m_liveStep = -1;
};

} // namespace vitrine::ui
