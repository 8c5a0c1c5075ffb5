#include "ui/workspace.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QThread>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/analysis/inspection.h"
#include "core/analysis/projection.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"

namespace vitrine::ui {
namespace an = core::analysis;

/// One model instance, used by one worker thread at a time.
struct Workspace::Engine {
    core::model::LoadedModel loaded;
    QString spec;
    int imageSize = -1;
    qint64 weightsStep = -1; ///< live snapshot applied, -1 = as loaded

    void ensure(const QString& wantSpec, int wantSize, bool withHead = false) {
        if (loaded.model && spec == wantSpec && imageSize == wantSize && (!withHead || loaded.model->head))
            return;
        core::model::LoadOptions o;
        o.imageSize = wantSize;
        // The trainer gives head-less (imported) models an identity-initialised head; live
        // weights from such a run need the same one here.
        o.addIdentityHead = withHead;
        loaded = core::model::loadModel(wantSpec.toStdString(), o);
        loaded.model->eval();
        spec = wantSpec;
        imageSize = wantSize;
        weightsStep = -1;
    }

    void applyWeights(const std::map<std::string, at::Tensor>& weights, qint64 step) {
        if (weights.count("head.weight") && !loaded.model->head)
            ensure(spec, imageSize, /*withHead=*/true);
        torch::NoGradGuard noGrad;
        auto params = loaded.model->named_parameters(/*recurse=*/true);
        for (auto& p : params) {
            auto it = weights.find(p.key());
            if (it != weights.end() && it->second.sizes() == p.value().sizes())
                p.value().copy_(it->second);
        }
        weightsStep = step;
    }

    QString describe() const {
        const auto& c = loaded.model->config();
        // Models that carry a name (bundled ones do) by what they are rather than by file name.
        if (loaded.metadata.contains("name") && loaded.metadata["name"].is_string())
            return QStringLiteral("%1 · %2 px, patch %3%4")
                .arg(QString::fromStdString(loaded.metadata["name"].get<std::string>()))
                .arg(c.imageSize)
                .arg(c.patchSize)
                .arg(loaded.weightsLoaded ? QString() : QStringLiteral(" · random weights"));
        QString what = QString::fromStdString(loaded.source);
        if (what.isEmpty() || what == "default")
            what = QStringLiteral("default model");
        return QStringLiteral("%1 · %2, %3 px, patch %4, D %5, %6 layers × %7 heads%8")
            .arg(QFileInfo(what).fileName(), QString::fromStdString(c.name))
            .arg(c.imageSize)
            .arg(c.patchSize)
            .arg(c.dim)
            .arg(c.depth)
            .arg(c.heads)
            .arg(loaded.weightsLoaded ? QString() : QStringLiteral(" · random weights"));
    }
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

DatasetEmbeddings Workspace::embedWithModel(const QString& spec, int imageSize, const core::data::Dataset& dataset,
                                            const JobRunner::Context& ctx) {
    Engine engine;
    engine.ensure(spec, imageSize);
    ctx.cancel.check();
    auto out = embedAll(*engine.loaded.model, dataset, ctx, nullptr);
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

core::Matrix Workspace::projectLayout(const core::Matrix& data, const ProjectionSettings& ps, const core::Matrix* previous,
                                      const JobRunner::Context& ctx) {
    // The policy `vitrine-cli project` follows too (core/analysis/projection.h).
    return an::projectLayout(data, projectionRequest(ps), previous, ctx.progress, &ctx.cancel);
}

Workspace::Workspace(DatasetModel* dataset, QObject* parent)
    : QObject(parent), m_dataset(dataset), m_engine(new JobRunner(tr("Embedding"), this)),
      m_analysis(new JobRunner(tr("Map"), this)), m_inspect(new JobRunner(tr("Inspecting"), this)),
      m_embedEngine(std::make_shared<Engine>()), m_inspectEngine(std::make_shared<Engine>()) {
    for (JobRunner* r : {m_engine, m_analysis, m_inspect})
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
    // Edits to the data set make the embeddings stale.
    connect(m_dataset, &QAbstractItemModel::modelReset, this, [this] {
        m_embeddings = {};
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
    for (JobRunner* r : {m_engine, m_analysis, m_inspect})
        r->cancel();
}

bool Workspace::waitForIdle(int timeoutMs) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        if (!m_engine->busy() && !m_analysis->busy() && !m_inspect->busy() && !m_pendingWeights && !m_embedQueued &&
            !m_pendingInspection && !m_pendingNeighbours)
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
        const bool reloaded = !engine->loaded.model || engine->spec != spec || engine->imageSize != imageSize;
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
        for (const auto& w : engine->loaded.warnings)
            warnings << QString::fromStdString(w);
        core::model::EmbedSummary summary;
        auto embedded = std::make_shared<DatasetEmbeddings>(embedAll(*engine->loaded.model, *dataset, ctx, &summary));
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
            m_embeddings = std::move(embedded->embeddings);
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

void Workspace::computeLayout(const ProjectionSettings& settings, bool continuous) {
    m_projection = settings;
    if (m_embeddings.empty())
        return;
    if (m_analysis->busy())
        m_analysis->cancel();
    QMetaObject::invokeMethod(this, [this, continuous] {
        if (!m_analysis->busy())
            startAnalysis(continuous, -1);
    }, Qt::QueuedConnection);
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
    auto data = std::make_shared<core::Matrix>(m_embeddings);
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
        an::NeighbourOptions no;
        auto index = std::make_shared<an::NeighbourIndex>(*data, no, core::ProgressFn{}, &ctx.cancel);
        auto nn = index->allRows(1, {}, &ctx.cancel);
        auto positions = std::make_shared<QVector<QPointF>>(
            rowCount, QPointF(std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()));
        auto same = std::make_shared<QVector<bool>>(rowCount, true);
        auto nnRow = std::make_shared<QVector<int>>(rowCount, -1);
        for (int e = 0; e < int(layout.rows); ++e) {
            int r = embToRow.value(e, -1);
            if (r < 0)
                continue;
            (*positions)[r] = QPointF(layout(e, 0), layout(e, 1));
            if (!nn[std::size_t(e)].empty()) {
                int other = embToRow.value(int(nn[std::size_t(e)][0].row), -1);
                (*same)[r] = other >= 0 && classOfRow[other] == classOfRow[r];
                (*nnRow)[r] = other;
            }
        }
        return [=, this] {
            if (m_dataset->rowCount() != rowCount)
                return;
            m_layout = *positions;
            m_nnSame = *same;
            m_nnRow = *nnRow;
            m_index = index;
            m_history.push_back({step < 0 ? (m_history.isEmpty() ? 0 : m_history.back().first) : step, m_layout});
            Q_EMIT layoutChanged(hasPrev);
            if (m_mapTimer.isValid()) {
                const double seconds = m_mapTimer.elapsed() / 1000.0;
                m_mapTimer.invalidate();
                Q_EMIT message(tr("Embedded and mapped %n image(s) in %1 s", "", rowCount).arg(seconds, 0, 'f', 1));
                // For bench/: wall time from the app's start to the first drawn map.
                if (qEnvironmentVariableIsSet("VITRINE_TIMING"))
                    std::fprintf(stderr, "vitrine-timing: map ready %.3f s after start of embedding\n", seconds);
            }
        };
    });
}

QString Workspace::titleOf(int row) const {
    if (row < 0 || row >= m_dataset->rowCount())
        return {};
    QModelIndex idx = m_dataset->index(row);
    return QStringLiteral("%1 (%2)").arg(idx.data(Qt::DisplayRole).toString(), idx.data(DatasetModel::ClassRole).toString());
}

QVector<NeighbourItem> Workspace::toItems(const std::vector<an::Neighbour>& hits, int queryRow) const {
    QVector<NeighbourItem> items;
    const int queryClass = queryRow >= 0 ? m_dataset->data(m_dataset->index(queryRow), DatasetModel::ClassIdRole).toInt() : -1;
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
    auto data = std::make_shared<core::Matrix>(m_embeddings);
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
            Q_EMIT neighboursReady(titleOf(row), m_dataset->data(m_dataset->index(row), DatasetModel::PathRole).toString(),
                                   row, toItems(hits, row));
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
    auto data = std::make_shared<core::Matrix>(m_embeddings);
    auto engine = m_inspectEngine;
    const QString spec = m_spec;
    const int imageSize = m_imageSize;
    auto embedEngine = m_embedEngine;
    const WeightSnapshot live = m_liveWeights;
    const qint64 liveStep = m_liveStep;
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        engine->ensure(spec, imageSize);
        if (live && engine->weightsStep != liveStep)
            engine->applyWeights(*live, liveStep);
        torch::InferenceMode guard;
        const auto po = engine->loaded.model->config().inputOptions();
        at::Tensor x = core::image::loadPreprocessed(path.toStdString(), po).unsqueeze(0);
        ctx.cancel.check();
        at::Tensor emb = engine->loaded.model->embed(x).to(torch::kFloat).contiguous();
        core::Matrix q(1, emb.size(1));
        std::memcpy(q.data.data(), emb.data_ptr<float>(), sizeof(float) * std::size_t(q.cols));
        if (q.cols != data->cols)
            throw core::Error(path.toStdString(), "the model's embedding width changed; compute the map again");
        auto hits = an::exactKnn(*data, q, k, cosine ? an::Metric::Cosine : an::Metric::Euclidean)[0];
        return [=, this] {
            Q_EMIT neighboursReady(tr("%1 (dropped image)").arg(QFileInfo(path).fileName()), path, -1, toItems(hits, -1));
        };
    };
    if (!m_inspect->start(task))
        m_pendingNeighbours = [this, task] { m_inspect->start(task); };
}

void Workspace::requestInspection(int row) {
    if (row < 0 || row >= m_dataset->rowCount())
        return;
    m_inspectedRow = row;
    const std::string path = m_dataset->data(m_dataset->index(row), DatasetModel::PathRole).toString().toStdString();
    const QString title = titleOf(row);
    auto engine = m_inspectEngine;
    const QString spec = m_liveStep >= 0 && m_embedEngine->loaded.model ? m_embedEngine->spec : m_spec;
    const int imageSize = m_imageSize;
    const WeightSnapshot live = m_liveWeights;
    const qint64 liveStep = m_liveStep;
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        engine->ensure(spec, imageSize);
        if (live && engine->weightsStep != liveStep)
            engine->applyWeights(*live, liveStep);
        auto result = std::make_shared<an::InspectionResult>(
            an::inspectImage(*engine->loaded.model, core::image::decodeForModel(path, engine->loaded.model->config().inputOptions()), &ctx.cancel));
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
    auto engine = m_inspectEngine;
    const QString spec = m_spec;
    const int imageSize = m_imageSize;
    const WeightSnapshot live = m_liveWeights;
    const qint64 liveStep = m_liveStep;
    auto task = [=, this](const JobRunner::Context& ctx) -> std::function<void()> {
        engine->ensure(spec, imageSize);
        if (live && engine->weightsStep != liveStep)
            engine->applyWeights(*live, liveStep);
        auto a = std::make_shared<an::InspectionResult>(an::inspectImage(*engine->loaded.model, core::image::decodeForModel(pathA, engine->loaded.model->config().inputOptions()), &ctx.cancel));
        auto b = std::make_shared<an::InspectionResult>(an::inspectImage(*engine->loaded.model, core::image::decodeForModel(pathB, engine->loaded.model->config().inputOptions()), &ctx.cancel));
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
        cv::Mat rgb = core::image::decodeForModel(path, before.loaded.model->config().inputOptions());
        auto a = std::make_shared<an::InspectionResult>(an::inspectImage(*before.loaded.model, rgb, &ctx.cancel));
        auto b = std::make_shared<an::InspectionResult>(an::inspectImage(*after.loaded.model, rgb, &ctx.cancel));
        return [=, this] {
            Q_EMIT pairInspectionReady(a, QFileInfo(checkpointA).fileName(), b, QFileInfo(checkpointB).fileName(), true);
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
