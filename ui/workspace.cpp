#include "ui/workspace.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QThread>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "core/analysis/attention_stats.h"
#include "core/analysis/inspection.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"
#include "core/model/model_session.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"

namespace vitrine::ui {
namespace an = core::analysis;

/// One model instance (core::model::ModelSession), used by one worker thread at a time; the
/// Workspace names models with QStrings.
struct Workspace::Engine : core::model::ModelSession {
    void ensure(const QString& spec, int imageSize) { ModelSession::ensure(spec.toStdString(), imageSize); }
    QString describe() const { return QString::fromStdString(ModelSession::describe()); }
};

namespace {

/// Every image of `dataset` through the engine's model: the one embedding loop the map and
/// Compare share.
DatasetEmbeddings embedAll(core::model::VitImpl& model, const core::data::Dataset& dataset,
                           const JobRunner::Context& ctx, core::model::EmbedSummary* summaryOut) {
    DatasetEmbeddings out;
    out.rowOf = QVector<int>(int(dataset.samples.size()), -1);
    int dim = 0;
    std::vector<float> rows;
    std::vector<std::size_t> order;
    core::model::EmbedOptions eo;
    const auto summary = core::model::embedDataset(
        model, dataset, eo,
        [&](const core::model::EmbeddedBatch& b) {
            dim = b.dim;
            rows.insert(rows.end(), b.rows, b.rows + b.indices.size() * std::size_t(b.dim));
            order.insert(order.end(), b.indices.begin(), b.indices.end());
        },
        ctx.progress, &ctx.cancel);
    out.embeddings.rows = std::int64_t(order.size());
    out.embeddings.cols = dim;
    out.embeddings.data = std::move(rows);
    for (std::size_t i = 0; i < order.size(); ++i)
        out.rowOf[int(order[i])] = int(i);
    if (summaryOut)
        *summaryOut = summary;
    return out;
}

} // namespace

/// One inspection's model: `session` brought to `spec` and, while training runs (`live`), to
/// the trainer's weights of `liveStep`. Copied into the worker's task; run there.
struct InspectJob {
    std::shared_ptr<core::model::ModelSession> session;
    QString spec;
    int imageSize = 0;
    WeightSnapshot live;
    qint64 liveStep = -1;

    /// `path` decoded at the model's input options and inspected.
    std::shared_ptr<an::InspectionResult> operator()(const std::string& path, const core::CancelToken* cancel) const {
        session->ensure(spec.toStdString(), imageSize);
        if (live && session->weightsStep() != liveStep)
            session->applyWeights(*live, liveStep);
        auto& model = *session->loaded().model;
        return std::make_shared<an::InspectionResult>(
            an::inspectImage(model, core::image::decodeForModel(path, model.config().inputOptions()), cancel));
    }
};

DatasetEmbeddings Workspace::embedWithModel(const QString& spec, int imageSize, const core::data::Dataset& dataset,
                                            const JobRunner::Context& ctx) {
    Engine engine;
    engine.ensure(spec, imageSize);
    ctx.cancel.check();
    auto out = embedAll(*engine.loaded().model, dataset, ctx, nullptr);
    out.description = engine.describe();
    return out;
}

an::ProjectionRequest Workspace::projectionRequest(const ProjectionSettings& ps) {
    an::ProjectionRequest request;
    request.method = ps.method;
    request.seed = ps.seed;
    request.perplexity = ps.perplexity;
    // The panel's iteration count is t-SNE's; UMAP runs its automatic number of epochs.
    request.iterations = ps.method == ProjectionMethod::Tsne ? ps.iterations : 0;
    request.neighbours = ps.umapNeighbours;
    request.minDist = ps.minDist;
    return request;
}

core::Matrix Workspace::projectLayout(const core::MatrixView& view, const ProjectionSettings& ps,
                                      const core::Matrix* previous, const JobRunner::Context& ctx) {
    // The policy `vitrine-cli project` follows too (core/analysis/projection.h).
    return an::projectLayout(view, projectionRequest(ps), previous, ctx.progress, &ctx.cancel);
}

Workspace::Workspace(DatasetModel* dataset, QObject* parent)
    : QObject(parent), m_dataset(dataset), m_engine(new JobRunner(tr("Embedding"), this)),
      m_analysis(new JobRunner(tr("Map"), this)), m_inspect(new JobRunner(tr("Inspecting"), this)),
      m_stats(new JobRunner(tr("Attention statistics"), this)), m_embedEngine(std::make_shared<Engine>()),
      m_inspectEngine(std::make_shared<Engine>()), m_statsEngine(std::make_shared<Engine>()) {
    for (JobRunner* r : {m_engine, m_analysis, m_inspect, m_stats})
        connect(r, &JobRunner::failed, this, &Workspace::error);
    connect(m_engine, &JobRunner::idle, this, [this] {
        if (m_pendingWeights) {
            startEmbedding(true, m_pendingStep);
        } else if (m_embedQueued) {
            m_embedQueued = false;
            startEmbedding(false, -1);
        }
    });
    connect(m_inspect, &JobRunner::idle, this, &Workspace::runPendingInspection);
    // A map asked for while the Map worker was stopping comes first, then a large file's index.
    connect(m_analysis, &JobRunner::idle, this, [this] {
        m_indexRunning = false;
        if (m_layoutQueued) {
            const bool continuous = *m_layoutQueued;
            m_layoutQueued.reset();
            startAnalysis(continuous, -1);
        } else if (m_indexQueued) {
            m_indexQueued = false;
            startLargeIndex();
        }
    });
    connect(m_stats, &JobRunner::idle, this, [this] {
        if (m_statsQueued) {
            m_statsQueued = false;
            computeAttentionStatistics();
        }
    });
    // Edits to the data set make the embeddings stale.
    connect(m_dataset, &QAbstractItemModel::modelReset, this, [this] {
        m_stats->cancel(); // its rows are the old data set's
        m_embeddings = {};
        m_fromFile = false;
        m_embeddingsFile.clear();
        m_indexQueued = false;
        m_analysisNote.clear();
        m_rowToEmbedding.clear();
        m_layout.clear();
        m_nnSame.clear();
        m_nnRow.clear();
        m_index.reset();
        m_history.clear();
        Q_EMIT layoutChanged(false);
    });
}

Workspace::~Workspace() {
    for (JobRunner* r : {m_engine, m_analysis, m_inspect, m_stats})
        r->cancel();
}

bool Workspace::waitForIdle(int timeoutMs) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        if (!m_engine->busy() && !m_analysis->busy() && !m_inspect->busy() && !m_stats->busy() && !m_pendingWeights &&
            !m_embedQueued && !m_statsQueued && !m_pendingInspection && !m_pendingNeighbours)
            return true;
        QThread::msleep(5);
    }
    return false;
}

void Workspace::setModel(const QString& spec, int imageSize) {
    m_spec = spec;
    m_imageSize = imageSize;
    m_liveStep = -1;
    computeEmbeddings();
}

void Workspace::computeEmbeddings() {
    if (m_fromFile) { // no images to embed: "Compute Map" projects the file's embeddings again
        computeLayout(m_projection);
        return;
    }
    if (m_engine->busy()) {
        m_engine->cancel();
        m_embedQueued = true;
        return;
    }
    startEmbedding(false, -1);
}

void Workspace::startEmbedding(bool live, qint64 step) {
    auto dataset = std::make_shared<core::data::Dataset>(m_dataset->dataset());
    auto engine = m_embedEngine;
    const QString spec = m_spec;
    const int imageSize = m_imageSize;
    WeightSnapshot weights = live ? m_pendingWeights : nullptr;
    m_pendingWeights.reset();
    if (dataset->samples.empty())
        return;
    if (!live) // time a full "embed and map" for the status bar (live refreshes are not timed)
        m_mapTimer.start();
    m_engine->start([=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        const bool reloaded = !engine->loadedAs(spec.toStdString(), imageSize);
        engine->ensure(spec, imageSize);
        if (weights)
            engine->applyWeights(*weights, step);
        // The model's description and the machine's compute summary change only with the
        // model: not rebuilt for every live refresh while training.
        const bool describeModel = reloaded || !live;
        QString description, compute;
        if (describeModel) {
            description = engine->describe(); // the precision that ran is appended below
            compute = QString::fromStdString(core::computeSummary(/*measure=*/false));
        }
        QStringList warnings;
        for (const auto& w : engine->loaded().warnings)
            warnings << QString::fromStdString(w);
        core::model::EmbedSummary summary;
        auto embedded = std::make_shared<DatasetEmbeddings>(embedAll(*engine->loaded().model, *dataset, ctx, &summary));
        if (describeModel) {
            description += QStringLiteral(" · ") + QString::fromLatin1(core::precisionName(summary.precision));
            if (summary.precision == core::Precision::Int8)
                description += tr(" (cosine %1 to float32)").arg(summary.int8MinCosine, 0, 'f', 3);
            else if (summary.int8MinCosine >= 0)
                description += tr(" (int8 cosine %1 < 0.99: float32 used)").arg(summary.int8MinCosine, 0, 'f', 3);
        }
        return [=, this] {
            if (m_dataset->rowCount() != embedded->rowOf.size())
                return; // the data set changed meanwhile; a new job follows
            m_embeddings = core::MatrixView::owning(std::move(embedded->embeddings));
            m_rowToEmbedding = embedded->rowOf;
            m_embeddingToRow = QVector<int>(int(m_embeddings.rows), -1);
            for (int r = 0; r < m_rowToEmbedding.size(); ++r)
                if (m_rowToEmbedding[r] >= 0)
                    m_embeddingToRow[m_rowToEmbedding[r]] = r;
            if (describeModel) {
                m_description = description;
                Q_EMIT computeSummaryChanged(compute);
                Q_EMIT modelChanged(description, warnings);
            }
            Q_EMIT embeddingsChanged();
            startAnalysis(live, step);
            if (live && m_inspectedRow >= 0)
                requestInspection(m_inspectedRow);
        };
    });
}

core::Matrix Workspace::embeddingsCopy() const {
    core::Matrix m(m_embeddings.rows, m_embeddings.cols);
    if (!m_embeddings.empty())
        std::copy_n(m_embeddings.data, m.data.size(), m.data.begin());
    return m;
}

void Workspace::setEmbeddings(core::MatrixView embeddings, const QVector<int>& rowOf, const QString& description,
                              const QString& file) {
    // Nothing the model computes belongs to these rows.
    m_engine->cancel();
    m_stats->cancel();
    m_embedQueued = false;
    m_pendingWeights.reset();
    m_embeddings = std::move(embeddings);
    m_fromFile = true;
    m_embeddingsFile = file;
    m_indexQueued = false;
    m_rowToEmbedding = rowOf;
    m_embeddingToRow = QVector<int>(int(m_embeddings.rows), -1);
    for (int r = 0; r < m_rowToEmbedding.size(); ++r)
        if (m_rowToEmbedding[r] >= 0 && m_rowToEmbedding[r] < m_embeddingToRow.size())
            m_embeddingToRow[m_rowToEmbedding[r]] = r;
    m_layout.clear();
    m_nnSame.clear();
    m_nnRow.clear();
    m_index.reset();
    m_history.clear();
    m_description = description;
    if (m_embeddings.rows >= kLargeRows && m_projection.method != ProjectionMethod::Pca) {
        // The first map of a large file comes in seconds; t-SNE and UMAP take minutes there
        // and stay one click away (with progress, the time left and Cancel).
        m_projection.method = ProjectionMethod::Pca;
        Q_EMIT message(tr("%L1 embeddings: mapped with PCA first; UMAP and t-SNE take minutes at this size, "
                          "choose them in the map panel")
                           .arg(m_embeddings.rows));
    }
    Q_EMIT embeddingsChanged();
    m_mapTimer.start();
    queueLayout(false);
}

void Workspace::queueLayout(bool continuous) {
    if (m_analysis->busy()) {
        // Started by the idle handler once the cancelled job has ended; an index build that
        // this interrupts starts again after the new map.
        if (m_indexRunning)
            m_indexQueued = true;
        m_layoutQueued = continuous;
        m_analysis->cancel();
        return;
    }
    QMetaObject::invokeMethod(
        this,
        [this, continuous] {
            if (!m_analysis->busy())
                startAnalysis(continuous, -1);
            else
                m_layoutQueued = continuous;
        },
        Qt::QueuedConnection);
}

void Workspace::computeLayout(const ProjectionSettings& settings, bool continuous) {
    m_projection = settings;
    if (m_embeddings.empty())
        return;
    queueLayout(continuous);
}

void Workspace::startAnalysis(bool live, qint64 step) {
    if (m_embeddings.empty())
        return;
    if (m_analysis->busy()) {
        // A refresh is already running; the next snapshot will bring newer data.
        if (!live)
            m_analysis->cancel();
        return;
    }
    auto data = std::make_shared<core::MatrixView>(m_embeddings); // shares the storage, no copy
    auto previous = std::make_shared<core::Matrix>();
    if (live && m_layout.size() == m_rowToEmbedding.size()) {
        previous->rows = data->rows;
        previous->cols = 2;
        previous->data.resize(std::size_t(data->rows) * 2);
        for (int r = 0; r < m_rowToEmbedding.size(); ++r) {
            int e = m_rowToEmbedding[r];
            if (e >= 0) {
                previous->data[std::size_t(e) * 2] = float(m_layout[r].x());
                previous->data[std::size_t(e) * 2 + 1] = float(m_layout[r].y());
            }
        }
    }
    const ProjectionSettings ps = m_projection;
    const QVector<int> embToRow = m_embeddingToRow;
    QVector<int> classOfRow(m_dataset->rowCount());
    for (int r = 0; r < m_dataset->rowCount(); ++r)
        classOfRow[r] = m_dataset->data(m_dataset->index(r), DatasetModel::ClassIdRole).toInt();
    const int rowCount = m_dataset->rowCount();
    m_analysis->start([=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        const bool hasPrev = !previous->empty();
        const core::Matrix layout = projectLayout(*data, ps, previous.get(), ctx);
        // Large sets get the map only: the index and the nearest-neighbour statistic would
        // take minutes and more memory than the map itself.
        const bool large = data->rows >= kLargeRows;
        std::shared_ptr<an::NeighbourIndex> index;
        std::vector<std::vector<an::Neighbour>> nn;
        if (!large) {
            an::NeighbourOptions no;
            index = std::make_shared<an::NeighbourIndex>(*data, no, core::ProgressFn{}, &ctx.cancel);
            nn = index->allRows(1, {}, &ctx.cancel);
        }
        auto positions = std::make_shared<QVector<QPointF>>(
            rowCount, QPointF(std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()));
        auto same = std::make_shared<QVector<bool>>(rowCount, true);
        auto nnRow = std::make_shared<QVector<int>>(rowCount, -1);
        for (int e = 0; e < int(layout.rows); ++e) {
            int r = embToRow.value(e, -1);
            if (r < 0)
                continue;
            (*positions)[r] = QPointF(layout(e, 0), layout(e, 1));
            if (!large && !nn[std::size_t(e)].empty()) {
                int other = embToRow.value(int(nn[std::size_t(e)][0].row), -1);
                (*same)[r] = other >= 0 && classOfRow[other] == classOfRow[r];
                (*nnRow)[r] = other;
            }
        }
        return [=, this] {
            if (m_dataset->rowCount() != rowCount)
                return;
            m_layout = *positions;
            m_nnSame = large ? QVector<bool>{} : *same;
            m_nnRow = large ? QVector<int>{} : *nnRow;
            if (!large) {
                m_index = index;
                m_analysisNote.clear();
            } else if (!m_index) { // a large file keeps the index it has (the rows did not change)
                const bool indexed = !m_embeddingsFile.isEmpty();
                m_analysisNote =
                    tr("%L1 embeddings: no nearest-neighbour class (from %L2 rows on). %3")
                        .arg(data->rows)
                        .arg(kLargeRows)
                        .arg(indexed ? tr("Until the neighbour index is ready, neighbours are searched exactly.")
                                     : tr("Neighbours are searched exactly, one query at a time."));
                m_indexQueued = indexed;
            }
            m_history.push_back({step < 0 ? (m_history.isEmpty() ? 0 : m_history.back().first) : step, m_layout});
            Q_EMIT layoutChanged(hasPrev);
            if (m_mapTimer.isValid()) {
                const double seconds = m_mapTimer.elapsed() / 1000.0;
                m_mapTimer.invalidate();
                Q_EMIT message(
                    m_fromFile ? tr("Mapped %L1 embeddings in %2 s").arg(rowCount).arg(seconds, 0, 'f', 1)
                               : tr("Embedded and mapped %n image(s) in %1 s", "", rowCount).arg(seconds, 0, 'f', 1));
                // For bench/: wall time from the app's start to the first drawn map.
                if (qEnvironmentVariableIsSet("VITRINE_TIMING"))
                    std::fprintf(stderr, "vitrine-timing: map ready %.3f s after start of embedding\n", seconds);
            }
        };
    });
}

void Workspace::startLargeIndex() {
    if (m_index || m_embeddingsFile.isEmpty() || m_embeddings.rows < kLargeRows)
        return;
    auto data = std::make_shared<core::MatrixView>(m_embeddings); // shares the mapping
    const std::filesystem::path file = m_embeddingsFile.toStdString();
    const auto started = std::chrono::steady_clock::now();
    m_indexRunning = m_analysis->start([=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        an::NeighbourOptions options;
        options.forceFaiss = true; // the engine that saves its index beside the file
        options.embeddingsFile = file;
        auto index = std::make_shared<const an::NeighbourIndex>(*data, options, ctx.progress, &ctx.cancel);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return [=, this] {
            if (m_embeddings.data != data->data || m_embeddings.rows != data->rows)
                return; // another file (or the model's embeddings) replaced these rows
            m_index = index;
            const QString saved = QString::fromStdString(an::faissIndexPath(file).filename().string());
            QString how;
            switch (index->indexFileStatus()) {
            case an::IndexFileStatus::Reused: how = tr("loaded from %1").arg(saved); break;
            case an::IndexFileStatus::Saved:
                how = tr("built in %1 s, saved as %2").arg(seconds, 0, 'f', 0).arg(saved);
                break;
            default:
                how = tr("built in %1 s; not saved (%2)")
                          .arg(seconds, 0, 'f', 0)
                          .arg(QString::fromStdString(index->indexFileMessage()));
            }
            m_analysisNote = tr("%L1 embeddings: neighbours from a FAISS IVF index, %2 of %3 cells probed (%4); "
                                "no nearest-neighbour class (from %L5 rows on).")
                                 .arg(data->rows)
                                 .arg(index->nprobe())
                                 .arg(index->nlist())
                                 .arg(how)
                                 .arg(kLargeRows);
            Q_EMIT analysisNoteChanged();
            Q_EMIT message(tr("Neighbour index ready: %1").arg(how));
        };
    });
}

InspectJob Workspace::inspectJob() const {
    // While training runs, the model being trained, with its live weights applied on top.
    const QString spec = m_liveStep >= 0 && m_embedEngine->loaded().model
                             ? QString::fromStdString(m_embedEngine->spec())
                             : m_spec;
    return {m_inspectEngine, spec, m_imageSize, m_liveWeights, m_liveStep};
}

QString Workspace::titleOf(int row) const {
    if (row < 0 || row >= m_dataset->rowCount())
        return {};
    QModelIndex idx = m_dataset->index(row);
    return QStringLiteral("%1 (%2)").arg(idx.data(Qt::DisplayRole).toString(),
                                         idx.data(DatasetModel::ClassRole).toString());
}

QVector<NeighbourItem> Workspace::toItems(const std::vector<an::Neighbour>& hits, int queryRow) const {
    QVector<NeighbourItem> items;
    const int queryClass = queryRow >= 0
                               ? m_dataset->data(m_dataset->index(queryRow), DatasetModel::ClassIdRole).toInt()
                               : -1;
    for (const auto& h : hits) {
        int row = m_embeddingToRow.value(int(h.row), -1);
        if (row < 0)
            continue;
        QModelIndex idx = m_dataset->index(row);
        NeighbourItem it;
        it.row = row;
        it.distance = h.distance;
        it.path = idx.data(DatasetModel::PathRole).toString();
        it.label = idx.data(DatasetModel::ClassRole).toString();
        it.wrongClass = queryRow >= 0 && idx.data(DatasetModel::ClassIdRole).toInt() != queryClass;
        items << it;
    }
    return items;
}

void Workspace::requestNeighbours(int row, int k, bool cosine) {
    if (row < 0 || row >= m_rowToEmbedding.size() || m_rowToEmbedding[row] < 0 || m_embeddings.empty())
        return;
    // Exact search over the embeddings is a few milliseconds for the sets a GUI shows, but it
    // still runs off the GUI thread.
    auto data = std::make_shared<core::MatrixView>(m_embeddings); // shares the storage
    const int e = m_rowToEmbedding[row];
    auto index = m_index;
    JobRunner* runner = m_inspect->busy() ? nullptr : m_inspect;
    auto task = [=, this](const JobRunner::Context&) -> std::function<void()> {
        std::vector<an::Neighbour> hits;
        if (index && cosine) {
            hits = index->queryRow(e, k);
        } else {
            core::Matrix q(1, data->cols);
            std::copy(data->row(e), data->row(e) + data->cols, q.data.begin());
            hits = an::exactKnn(*data, q, k + 1, cosine ? an::Metric::Cosine : an::Metric::Euclidean)[0];
            std::erase_if(hits, [&](const an::Neighbour& n) { return n.row == e; });
            if (int(hits.size()) > k)
                hits.resize(std::size_t(k));
        }
        return [=, this] {
            if (data->rows != m_embeddings.rows)
                return;
            Q_EMIT neighboursReady(titleOf(row),
                                   m_dataset->data(m_dataset->index(row), DatasetModel::PathRole).toString(), row,
                                   toItems(hits, row));
        };
    };
    if (runner)
        runner->start(task);
    else
        m_pendingNeighbours = [this, task] { m_inspect->start(task); };
}

void Workspace::requestNeighboursOfFile(const QString& path, int k, bool cosine) {
    if (m_embeddings.empty()) {
        Q_EMIT error(tr("Compute the embeddings first (the map does it), then drop an image to find its neighbours."));
        return;
    }
    auto data = std::make_shared<core::MatrixView>(m_embeddings); // shares the storage
    auto engine = m_inspectEngine;
    const QString spec = m_spec;
    const int imageSize = m_imageSize;
    auto embedEngine = m_embedEngine;
    const WeightSnapshot live = m_liveWeights;
    const qint64 liveStep = m_liveStep;
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        engine->ensure(spec, imageSize);
        if (live && engine->weightsStep() != liveStep)
            engine->applyWeights(*live, liveStep);
        torch::InferenceMode guard;
        const auto po = engine->loaded().model->config().inputOptions();
        at::Tensor x = core::image::loadPreprocessed(path.toStdString(), po).unsqueeze(0);
        ctx.cancel.check();
        at::Tensor emb = engine->loaded().model->embed(x).to(torch::kFloat).contiguous();
        core::Matrix q(1, emb.size(1));
        std::memcpy(q.data.data(), emb.data_ptr<float>(), sizeof(float) * std::size_t(q.cols));
        if (q.cols != data->cols)
            throw core::Error(path.toStdString(), "the model's embedding width changed; compute the map again");
        auto hits = an::exactKnn(*data, q, k, cosine ? an::Metric::Cosine : an::Metric::Euclidean)[0];
        return [=, this] {
            Q_EMIT neighboursReady(tr("%1 (dropped image)").arg(QFileInfo(path).fileName()), path, -1,
                                   toItems(hits, -1));
        };
    };
    if (!m_inspect->start(task))
        m_pendingNeighbours = [this, task] { m_inspect->start(task); };
}

Workspace::EmbeddedRows Workspace::embeddedRows(bool absolutePaths) const {
    EmbeddedRows out;
    out.table = std::make_shared<core::io::RowTable>();
    out.table->columns = {"path", "label"};
    const auto& ds = m_dataset->dataset();
    const int level = m_dataset->labelLevel();
    std::vector<std::int64_t> picked;
    for (int r = 0; r < m_rowToEmbedding.size() && r < int(ds.samples.size()); ++r) {
        const int e = m_rowToEmbedding[r];
        if (e < 0 || e >= m_embeddings.rows)
            continue;
        picked.push_back(e);
        out.toDataset << r;
        const auto& s = ds.samples[std::size_t(r)];
        out.table->rows.push_back(
            {absolutePaths ? s.path.string() : s.relativePath, core::data::Dataset::labelAt(s, level)});
    }
    out.embeddings = std::make_shared<core::Matrix>(std::int64_t(picked.size()), m_embeddings.cols);
    for (std::size_t i = 0; i < picked.size(); ++i)
        std::copy(m_embeddings.row(picked[i]), m_embeddings.row(picked[i]) + m_embeddings.cols,
                  out.embeddings->row(std::int64_t(i)));
    return out;
}

void Workspace::computeAttentionStatistics() {
    if (m_stats->busy()) {
        m_stats->cancel();
        m_statsQueued = true;
        return;
    }
    const int rows = m_dataset->rowCount();
    if (rows == 0)
        return;
    std::vector<std::filesystem::path> files;
    files.reserve(std::size_t(rows));
    for (int r = 0; r < rows; ++r)
        files.emplace_back(m_dataset->data(m_dataset->index(r), DatasetModel::PathRole).toString().toStdString());
    auto engine = m_statsEngine;
    const QString spec = m_liveStep >= 0 && m_embedEngine->loaded().model
                             ? QString::fromStdString(m_embedEngine->spec())
                             : m_spec;
    const int imageSize = m_imageSize;
    const WeightSnapshot live = m_liveWeights;
    const qint64 liveStep = m_liveStep;
    m_stats->start([=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        engine->ensure(spec, imageSize);
        if (live && engine->weightsStep() != liveStep)
            engine->applyWeights(*live, liveStep);
        ctx.cancel.check();
        const auto run = an::computeAttentionStatistics(*engine->loaded().model, files, /*batch=*/8, ctx.progress,
                                                        &ctx.cancel);
        QVector<float> entropy(rows), concentration(rows), highNorm(rows);
        for (int r = 0; r < rows; ++r) {
            entropy[r] = run.perImage[std::size_t(r)].classEntropy;
            concentration[r] = run.perImage[std::size_t(r)].rolloutConcentration;
            highNorm[r] = run.perImage[std::size_t(r)].highNormTokens;
        }
        QString note = live ? tr("%1, training step %2").arg(engine->describe()).arg(liveStep) : engine->describe();
        note += tr(" · %n image(s) in %1 s", "", rows - int(run.errors.size())).arg(run.seconds, 0, 'f', 1);
        if (!run.errors.empty())
            note += tr(" · %n could not be read (first: %1)", "", int(run.errors.size()))
                        .arg(QString::fromStdString(run.errors.front()));
        return [=, this] {
            if (m_dataset->rowCount() != rows)
                return; // the data set changed meanwhile
            Q_EMIT attentionStatisticsReady(entropy, concentration, highNorm, note);
        };
    });
}

void Workspace::requestInspection(int row) {
    if (row < 0 || row >= m_dataset->rowCount())
        return;
    m_inspectedRow = row;
    const std::string path = m_dataset->data(m_dataset->index(row), DatasetModel::PathRole).toString().toStdString();
    const QString title = titleOf(row);
    const InspectJob inspect = inspectJob();
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        auto result = inspect(path, &ctx.cancel);
        return [this, result, title] { Q_EMIT inspectionReady(result, title); };
    };
    m_pendingInspection = [this, task] { m_inspect->start(task); };
    if (!m_inspect->busy())
        runPendingInspection();
}

void Workspace::requestPairInspection(int rowA, int rowB) {
    if (rowA < 0 || rowB < 0)
        return;
    const std::string pathA = m_dataset->data(m_dataset->index(rowA), DatasetModel::PathRole).toString().toStdString();
    const std::string pathB = m_dataset->data(m_dataset->index(rowB), DatasetModel::PathRole).toString().toStdString();
    const QString titleA = titleOf(rowA), titleB = titleOf(rowB);
    const InspectJob inspect = inspectJob();
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        auto a = inspect(pathA, &ctx.cancel);
        auto b = inspect(pathB, &ctx.cancel);
        return [=, this] { Q_EMIT pairInspectionReady(a, titleA, b, titleB, false); };
    };
    m_pendingInspection = [this, task] { m_inspect->start(task); };
    if (!m_inspect->busy())
        runPendingInspection();
}

void Workspace::requestCheckpointComparison(int row, const QString& checkpointA, const QString& checkpointB) {
    if (row < 0)
        return;
    const std::string path = m_dataset->data(m_dataset->index(row), DatasetModel::PathRole).toString().toStdString();
    const int imageSize = m_imageSize;
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        Engine before, after;
        before.ensure(checkpointA, imageSize);
        after.ensure(checkpointB, imageSize);
        cv::Mat rgb = core::image::decodeForModel(path, before.loaded().model->config().inputOptions());
        auto a = std::make_shared<an::InspectionResult>(an::inspectImage(*before.loaded().model, rgb, &ctx.cancel));
        auto b = std::make_shared<an::InspectionResult>(an::inspectImage(*after.loaded().model, rgb, &ctx.cancel));
        return [=, this] {
            Q_EMIT pairInspectionReady(a, QFileInfo(checkpointA).fileName(), b, QFileInfo(checkpointB).fileName(),
                                       true);
        };
    };
    m_pendingInspection = [this, task] { m_inspect->start(task); };
    if (!m_inspect->busy())
        runPendingInspection();
}

void Workspace::runPendingInspection() {
    // Inspections and neighbour queries share the runner; each keeps only its newest request.
    for (auto* pending : {&m_pendingInspection, &m_pendingNeighbours}) {
        if (!*pending || m_inspect->busy())
            continue;
        auto run = std::move(*pending);
        *pending = nullptr;
        run();
    }
}

void Workspace::applyWeights(WeightSnapshot weights, qint64 step, const QString& spec, int imageSize) {
    if (spec != m_spec || imageSize != m_imageSize) {
        m_spec = spec;
        m_imageSize = imageSize;
    }
    m_liveStep = step;
    m_liveWeights = weights; // the Inspector's model follows the same weights
    m_pendingWeights = weights;
    m_pendingStep = step;
    if (!m_engine->busy())
        startEmbedding(true, step);
}

void Workspace::refreshNearestSameClass() {
    if (m_nnRow.size() != m_dataset->rowCount())
        return;
    for (int r = 0; r < m_nnRow.size(); ++r) {
        const int other = m_nnRow[r];
        if (other >= 0)
            m_nnSame[r] = m_dataset->data(m_dataset->index(other), DatasetModel::ClassIdRole).toInt() ==
                          m_dataset->data(m_dataset->index(r), DatasetModel::ClassIdRole).toInt();
    }
}

} // namespace vitrine::ui
