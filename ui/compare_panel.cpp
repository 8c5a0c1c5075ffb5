#include "ui/compare_panel.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/analysis/compare.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"
#include "core/data/dataset.h"
#include "core/io/embedding_set.h"
#include "core/model/model_paths.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/scatter_view.h"
#include "ui/workspace.h"

namespace fs = std::filesystem;

namespace vitrine::ui {

namespace {

constexpr int kRowRole = Qt::UserRole + 1; ///< data set row of an image item
/// How many changed images the list shows (the map shows them all).
constexpr int kListed = 500;

} // namespace

struct ComparePanel::Source {
    QString file;  ///< an embeddings file, or
    QString model; ///< a model to embed the data set with ("default", a bundled name, a path)
};

struct ComparePanel::Detail {
    int row = -1; ///< data set row
    float overlap = 1.0f;
    QVector<int> onlyCurrent; ///< data set rows, neighbours under the current model only
    QVector<int> onlyOther;   ///< data set rows, neighbours under the file only
};

QString ComparePanel::scoreName() { return tr("neighbourhood change"); }

ComparePanel::ComparePanel(Workspace* workspace, DatasetModel* dataset, QWidget* parent)
    : QWidget(parent), m_workspace(workspace), m_dataset(dataset), m_runner(new JobRunner(tr("Compare"), this)),
      m_choose(new QPushButton(tr("Compare With"))), m_menu(new QMenu(this)), m_progress(new QProgressBar),
      m_otherMap(new ScatterView), m_otherCaption(new QLabel), m_split(new QSplitter(Qt::Vertical)),
      m_cancel(new QPushButton(tr("Cancel"))), m_k(new QSpinBox), m_summary(new QLabel), m_tree(new QTreeWidget),
      m_status(new QLabel) {
    m_choose->setToolTip(tr("Compare the current model's embeddings of this data set with another model or checkpoint "
                            "(the panel embeds the images with it) or with an embeddings file of the same images "
                            "(.npy, .safetensors or .csv, as File > Export Embeddings or vitrine-cli embed write "
                            "them): which images' neighbours changed, and the two maps side by side"));
    m_choose->setMenu(m_menu);
    connect(m_menu, &QMenu::aboutToShow, this, &ComparePanel::fillMenu);
    m_progress->setVisible(false);
    m_progress->setTextVisible(true);
    m_progress->setAccessibleName(tr("Comparison progress"));
    m_otherMap->setAccessibleName(tr("Second embedding's map"));
    m_otherMap->setMinimumHeight(220);
    m_otherCaption->setToolTip(
        tr("The second embedding's map, projected like the main map and turned, scaled and moved onto "
           "it (Procrustes). Selecting or hovering here selects or rings the same images on the main "
           "map, and the other way round."));
    m_otherCaption->setWordWrap(true);
    m_otherCaption->setVisible(false);
    m_otherMap->setVisible(false);
    m_cancel->setToolTip(tr("Stop the comparison; the last results stay"));
    m_cancel->setVisible(false);
    m_k->setRange(1, 200);
    m_k->setValue(QSettings().value(QStringLiteral("compare/k"), 10).toInt());
    m_k->setPrefix(tr("k = "));
    m_k->setToolTip(tr("Nearest neighbours per image: the overlap is the share of them both embeddings agree on"));
    m_k->setAccessibleName(tr("Neighbours per image"));
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_tree->setColumnCount(2);
    m_tree->setHeaderLabels({tr("Image"), tr("Overlap")});
    m_tree->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_tree->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_tree->header()->setStretchLastSection(false);
    m_tree->setAccessibleName(tr("Comparison results"));
    m_tree->setUniformRowHeights(true);
    m_tree->setTextElideMode(Qt::ElideMiddle);
    m_status->setWordWrap(true);
    m_status->setText(tr("Compare this map's embeddings with another model's or an earlier export: export "
                         "embeddings (Ctrl+E), change the model or train, then Compare With… that file."));

    auto* top = new QHBoxLayout;
    top->addWidget(m_choose);
    top->addWidget(m_k);
    top->addWidget(m_cancel);
    top->addStretch(1);
    auto* mapBox = new QWidget;
    auto* mapLayout = new QVBoxLayout(mapBox);
    mapLayout->setContentsMargins(0, 0, 0, 0);
    mapLayout->addWidget(m_otherCaption);
    mapLayout->addWidget(m_otherMap, 1);
    m_split->addWidget(mapBox);
    m_split->addWidget(m_tree);
    m_split->setStretchFactor(0, 3);
    m_split->setStretchFactor(1, 2);
    m_split->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_progress);
    layout->addWidget(m_summary);
    layout->addWidget(m_split, 1);
    layout->addWidget(m_status);

    connect(m_choose, &QPushButton::clicked, this, &ComparePanel::chooseAndCompare);
    connect(m_cancel, &QPushButton::clicked, m_runner, &JobRunner::cancel);
    connect(m_k, qOverload<int>(&QSpinBox::valueChanged), this,
            [](int k) { QSettings().setValue(QStringLiteral("compare/k"), k); });
    connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
        if (!item || !item->data(0, kRowRole).isValid())
            return;
        const int row = item->data(0, kRowRole).toInt();
        // Selected on both maps (the main map follows through the link), and in view.
        m_otherMap->setSelection({row}, /*emitSignal=*/true);
        m_otherMap->setCurrent(row);
        Q_EMIT rowActivated(row);
    });
    connect(m_otherMap, &ScatterView::pointClicked, this, &ComparePanel::rowActivated);
    connect(m_runner, &JobRunner::progress, this, [this](qint64 done, qint64 total, const QString& stage) {
        if (total > 0) {
            m_progress->setRange(0, 1000);
            m_progress->setValue(int(1000 * done / total));
            m_progress->setFormat(tr("%1 %2 of %3").arg(stage).arg(done).arg(total));
        } else {
            m_progress->setRange(0, 0);
        }
        const double eta = m_runner->etaSeconds();
        m_status->setText(total > 0 ? tr("Comparing: %1 %2 of %3…%4")
                                          .arg(stage)
                                          .arg(done)
                                          .arg(total)
                                          .arg(eta >= 0 ? QStringLiteral(" ") + formatEta(eta) : QString())
                                    : tr("Comparing: %1…").arg(stage));
    });
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        const QString hint = m_startedModel
                                 ? tr("Choose a ViT checkpoint Vitrine opens (a .safetensors, .pt or .pth file, as "
                                      "Model > Open Model… accepts) or one of the bundled models.")
                                 : tr("Choose an embeddings file of this data set (.npy or .safetensors with its "
                                      ".rows.tsv beside it, or a .csv), e.g. one written by File > Export "
                                      "Embeddings.");
        m_status->setText(QStringLiteral("<span style='color:#c0392b'><b>%1</b> %2</span><br>%3")
                              .arg(tr("Comparison failed:"), message.toHtmlEscaped(), hint.toHtmlEscaped()));
    });
    connect(m_runner, &JobRunner::cancelled, this, [this] { m_status->setText(tr("Comparison cancelled.")); });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_choose->setEnabled(true);
        m_cancel->setVisible(false);
        m_progress->setVisible(false);
    });
    // Another data set (or the same one read again after a fix): the rows the result names
    // are no longer the same images.
    connect(m_dataset, &QAbstractItemModel::modelReset, this, [this] {
        if (!m_result)
            return;
        m_result.reset();
        m_details.reset();
        m_tree->clear();
        m_summary->clear();
        showOtherMap();
        m_status->setText(tr("The data set changed: compare again once its map is computed."));
    });
    connect(m_workspace, &Workspace::embeddingsChanged, this, [this] {
        if (m_result)
            m_status->setText(tr("The embeddings changed since this comparison: compare again for current results."));
    });
}

ComparePanel::~ComparePanel() {
    m_runner->cancel();
    m_runner->waitForIdle(10000);
}

bool ComparePanel::busy() const { return m_runner->busy(); }

// Not while a comparison runs, and not before there is a map to compare (says so).
bool ComparePanel::readyToCompare() {
    if (m_runner->busy())
        return false;
    if (!m_workspace->hasEmbeddings()) {
        m_status->setText(tr("Nothing to compare yet: open a data set and compute its map (F5) first."));
        return false;
    }
    return true;
}

void ComparePanel::chooseAndCompare() {
    if (!readyToCompare())
        return;
    QSettings s;
    const QString start = s.value(QStringLiteral("compare/lastFile"),
                                  s.value(QStringLiteral("export/path"), QDir::homePath()))
                              .toString();
    const QString file = QFileDialog::getOpenFileName(this, tr("Compare With Embeddings"), start,
                                                      tr("Embeddings (*.npy *.safetensors *.csv);;All files (*)"));
    if (file.isEmpty())
        return;
    compareWith(file);
}

void ComparePanel::compareWith(const QString& file) {
    QSettings().setValue(QStringLiteral("compare/lastFile"), file);
    start({file, {}});
}

void ComparePanel::chooseModelAndCompare() {
    if (!readyToCompare())
        return;
    QSettings s;
    const QString start = s.value(QStringLiteral("compare/lastModel"), QDir::homePath()).toString();
    const QString file = QFileDialog::getOpenFileName(
        this, tr("Compare With Model or Checkpoint"), start,
        tr("Model checkpoints (*.safetensors *.pt *.pth);;All files (*)"));
    if (file.isEmpty())
        return;
    compareWithModel(file);
}

void ComparePanel::compareWithModel(const QString& spec) {
    if (QFileInfo(spec).isFile())
        QSettings().setValue(QStringLiteral("compare/lastModel"), spec);
    start({{}, spec});
}

void ComparePanel::popupSourceMenu() { m_menu->popup(m_choose->mapToGlobal(QPoint(0, m_choose->height()))); }

void ComparePanel::fillMenu() {
    m_menu->clear();
    m_menu->addAction(tr("Model or Checkpoint File…"), this, &ComparePanel::chooseModelAndCompare)
        ->setToolTip(tr("A .safetensors, .pt or .pth checkpoint: the data set is embedded with it, then compared"));
    QMenu* bundled = m_menu->addMenu(tr("Bundled Model"));
    for (const auto& n : core::model::bundledModelNames()) {
        const QString name = QString::fromStdString(n);
        bundled->addAction(name, this, [this, name] { compareWithModel(name); });
    }
    bundled->setEnabled(!bundled->isEmpty());
    const QStringList checkpoints = m_runCheckpoints ? m_runCheckpoints() : QStringList();
    QMenu* run = m_menu->addMenu(tr("Training Run Checkpoint"));
    for (const QString& path : checkpoints)
        run->addAction(QFileInfo(path).fileName(), this, [this, path] { compareWithModel(path); })->setToolTip(path);
    run->setEnabled(!checkpoints.isEmpty());
    if (checkpoints.isEmpty())
        run->setToolTip(tr("Train (Training panel) to write checkpoints"));
    m_menu->addSeparator();
    m_menu->addAction(tr("Embeddings File…"), this, &ComparePanel::chooseAndCompare)
        ->setToolTip(tr("An embeddings file of the same images (.npy, .safetensors or .csv), as File > Export "
                        "Embeddings or vitrine-cli embed write them"));
    for (QAction* a : m_menu->actions())
        a->setEnabled(a->isEnabled() && !m_runner->busy());
}

void ComparePanel::setLinkedMap(ScatterView* mainMap, ThumbnailCache* thumbs) {
    m_mainMap = mainMap;
    m_thumbs = thumbs;
    // Points are data set rows on both maps, so linking is passing the same rows on.
    connect(mainMap, &ScatterView::selectionChanged, m_otherMap,
            [this](const QSet<int>& rows) { m_otherMap->setSelection(rows, /*emitSignal=*/false); });
    connect(m_otherMap, &ScatterView::selectionChanged, mainMap, [this](const QSet<int>& rows) {
        if (m_mainMap->selection() != rows)
            m_mainMap->setSelection(rows, /*emitSignal=*/true); // the rest of the window follows the main map
    });
    connect(mainMap, &ScatterView::hovered, m_otherMap, &ScatterView::setLinkedHover);
    connect(m_otherMap, &ScatterView::hovered, mainMap, &ScatterView::setLinkedHover);
    // Both maps are in the main map's frame (aligned by Procrustes): panning or zooming one
    // shows the same region on the other, and recolouring or filtering the main map
    // (a score, a legend band, a range) recolours the second.
    connect(mainMap, &ScatterView::viewChanged, m_otherMap,
            [this] { m_otherMap->showDataRect(m_mainMap->visibleDataRect()); });
    connect(m_otherMap, &ScatterView::viewChanged, mainMap,
            [this] { m_mainMap->showDataRect(m_otherMap->visibleDataRect()); });
    connect(mainMap, &ScatterView::coloursChanged, m_otherMap, [this] { m_otherMap->copyColoursFrom(*m_mainMap); });
}

void ComparePanel::setCurrentRow(int row) { m_otherMap->setCurrent(row); }

void ComparePanel::start(const Source& source) {
    if (!readyToCompare())
        return;
    // The embedded rows, named as the exporters name them (path relative to the data set).
    const auto& ds = m_dataset->dataset();
    const auto rows = m_workspace->embeddedRows(/*absolutePaths=*/false);
    const auto table = rows.table;
    const QVector<int> toDataset = rows.toDataset;
    const auto current = rows.embeddings;
    const int level = m_dataset->labelLevel();
    const int k = m_k->value();
    const int datasetRows = m_dataset->rowCount();
    const QVector<QPointF> mainLayout = m_workspace->layout(); // per data set row, NaN where none
    const ProjectionSettings projection = m_workspace->projectionSettings();
    // The second embedding: read from the file, or computed with the other model by the map's
    // own embedding job (Workspace::embedWithModel) on this panel's worker.
    std::function<core::io::EmbeddingSet(const JobRunner::Context&, QString*)> loadOther;
    if (!source.model.isEmpty()) {
        auto dataset = std::make_shared<core::data::Dataset>(ds);
        const QString spec = source.model;
        const int imageSize = m_workspace->imageSize();
        loadOther = [dataset, spec, imageSize, level](const JobRunner::Context& ctx, QString* name) {
            auto e = Workspace::embedWithModel(spec, imageSize, *dataset, ctx);
            *name = e.description;
            core::io::EmbeddingSet set;
            set.rows.columns = {"path", "label"};
            set.rows.rows.resize(std::size_t(e.embeddings.rows));
            for (int r = 0; r < e.rowOf.size(); ++r)
                if (e.rowOf[r] >= 0) {
                    const auto& s = dataset->samples[std::size_t(r)];
                    set.rows.rows[std::size_t(e.rowOf[r])] = {s.relativePath, core::data::Dataset::labelAt(s, level)};
                }
            set.embeddings = std::move(e.embeddings);
            return set;
        };
    } else {
        const QString file = source.file;
        loadOther = [file](const JobRunner::Context&, QString* name) {
            *name = QFileInfo(file).fileName();
            return core::io::loadEmbeddingSet(fs::path(file.toStdString()));
        };
    }
    const QString otherSpec = source.model.isEmpty() ? source.file : source.model;
    const bool isModel = !source.model.isEmpty();
    const bool started = m_runner->start([this, otherSpec, isModel, loadOther, current, table, toDataset, k,
                                          datasetRows, mainLayout,
                                          projection](const JobRunner::Context& ctx) -> std::function<void()> {
        QElapsedTimer clock; // the whole job (embedding or reading, both maps, both neighbour searches)
        clock.start();
        QString otherName;
        auto other = loadOther(ctx, &otherName);
        const auto match = core::analysis::matchRowsByPath(*table, other.rows);
        std::vector<std::int64_t> rowsA, rowsB;
        for (std::size_t i = 0; i < match.size(); ++i)
            if (match[i] >= 0) {
                rowsA.push_back(std::int64_t(i));
                rowsB.push_back(match[i]);
            }
        if (rowsA.size() < 2)
            throw core::Error(fs::path(otherSpec.toStdString()),
                              "only " + std::to_string(rowsA.size()) + " of its " + std::to_string(other.rows.size()) +
                                  " images are in the open data set (matched by the \"path\" column, relative "
                                  "to the data set folder); it needs two or more. Was it written for another "
                                  "data set?");
        core::io::RowTable rows;
        rows.columns = table->columns;
        for (auto r : rowsA)
            rows.rows.push_back(table->rows[std::size_t(r)]);
        const core::Matrix ea = core::analysis::pickRows(*current, rowsA),
                           eb = core::analysis::pickRows(other.embeddings, rowsB);
        auto datasetRow = [&](std::int64_t comparedRow) { return toDataset[int(rowsA[std::size_t(comparedRow)])]; };
        // Map A is the main map as drawn (its rows); map B is projected the same way and then
        // aligned onto it. Without a main map yet, both are PCA maps (vitrine-cli compare's).
        core::Matrix mapA(std::int64_t(rowsA.size()), 2);
        bool mainMapUsable = mainLayout.size() == datasetRows;
        for (std::size_t i = 0; i < rowsA.size() && mainMapUsable; ++i) {
            const QPointF p = mainLayout[datasetRow(std::int64_t(i))];
            mainMapUsable = !std::isnan(p.x()) && !std::isnan(p.y());
            mapA(std::int64_t(i), 0) = float(p.x());
            mapA(std::int64_t(i), 1) = float(p.y());
        }
        if (!mainMapUsable)
            mapA = core::analysis::pca(ea, {}, {}, &ctx.cancel);
        const auto mapB = mainMapUsable ? Workspace::projectLayout(eb, projection, nullptr, ctx)
                                        : core::analysis::pca(eb, {}, {}, &ctx.cancel);
        core::analysis::CompareOptions co;
        co.k = k;
        co.mapA = &mapA;
        co.mapB = &mapB;
        const auto rep = core::analysis::compareEmbeddings(ea, eb, rows, co, ctx.progress, &ctx.cancel);

        auto view = std::make_shared<ComparisonView>();
        view->otherFile = otherSpec;
        view->otherIsModel = isModel;
        view->otherName = otherName;
        view->k = rep.k;
        view->compared = int(rowsA.size());
        view->onlyCurrent = int(table->rows.size() - rowsA.size());
        view->onlyOther = int(other.rows.size() - std::int64_t(rowsA.size()));
        view->meanOverlap = rep.meanOverlap;
        view->procrustesResidual = rep.procrustes ? rep.procrustes->residual : 0.0;
        view->seconds = double(clock.elapsed()) / 1000.0;
        view->overlap = QVector<float>(datasetRows, std::numeric_limits<float>::quiet_NaN());
        constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
        view->otherLayout = QVector<QPointF>(datasetRows, QPointF(kNaN, kNaN));
        view->alignedToMainMap = mainMapUsable;
        for (std::size_t i = 0; i < rep.overlap.size(); ++i) {
            const int r = datasetRow(std::int64_t(i));
            view->overlap[r] = rep.overlap[i];
            if (rep.procrustes)
                view->otherLayout[r] = QPointF(rep.procrustes->aligned(std::int64_t(i), 0),
                                               rep.procrustes->aligned(std::int64_t(i), 1));
        }
        auto details = std::make_shared<std::vector<Detail>>();
        for (const auto& ch : rep.changed) {
            if (ch.overlap >= 1.0f || int(details->size()) >= kListed)
                break;
            Detail d;
            d.row = datasetRow(ch.row);
            d.overlap = ch.overlap;
            for (auto r : ch.onlyA)
                d.onlyCurrent << datasetRow(r);
            for (auto r : ch.onlyB)
                d.onlyOther << datasetRow(r);
            details->push_back(std::move(d));
        }
        std::vector<std::pair<std::string, double>> perClass(rep.perClassOverlap.begin(), rep.perClassOverlap.end());
        return [this, view, details, perClass] {
            m_result = view;
            m_details = details;
            showResult();
            // Per-class means, lowest first: the classes whose neighbourhoods moved most.
            auto sorted = perClass;
            std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
            if (!sorted.empty()) {
                auto* section = new QTreeWidgetItem(m_tree);
                section->setText(0, tr("Per class (%1)").arg(sorted.size()));
                section->setToolTip(0, tr("Mean overlap of each class's images, lowest first"));
                section->setFirstColumnSpanned(false);
                QFont bold = section->font(0);
                bold.setBold(true);
                section->setFont(0, bold);
                for (const auto& [label, v] : sorted) {
                    auto* item = new QTreeWidgetItem(section);
                    item->setText(0, label.empty() ? tr("(unlabelled)") : QString::fromStdString(label));
                    item->setText(1, QString::number(v, 'f', 2));
                }
            }
        };
    });
    if (started) {
        m_startedModel = isModel;
        m_choose->setEnabled(false);
        m_cancel->setVisible(true);
        m_progress->setRange(0, 0);
        m_progress->setFormat(QString());
        m_progress->setVisible(true);
        m_status->setText(
            isModel ? tr("Embedding the data set with %1, then comparing…").arg(QFileInfo(otherSpec).fileName())
                    : tr("Comparing with %1…").arg(QFileInfo(otherSpec).fileName()));
    }
}

void ComparePanel::showResult() {
    m_tree->clear();
    if (!m_result)
        return;
    const auto& r = *m_result;
    m_summary->setText(summary());
    m_summary->setToolTip(tr("Overlap: of each image's k nearest neighbours (cosine), the share that both embeddings "
                             "agree on; 1 = the same neighbours. Procrustes residual: how far the second PCA map is "
                             "from the first after the best rotation, reflection and scale; 0 = the same picture, "
                             "1 = unrelated."));
    auto* changed = new QTreeWidgetItem(m_tree);
    int count = 0;
    for (float o : r.overlap)
        count += !std::isnan(o) && o < 1.0f ? 1 : 0;
    changed->setText(0, tr("Most changed (%1)").arg(count));
    changed->setToolTip(0, tr("Images with a neighbour under only one of the two embeddings, the most changed first "
                              "(at most %1 listed; the map shows all)")
                               .arg(kListed));
    QFont bold = changed->font(0);
    bold.setBold(true);
    changed->setFont(0, bold);
    auto names = [this](const QVector<int>& rows) {
        QStringList out;
        for (int i = 0; i < rows.size() && i < 5; ++i)
            out << m_dataset->index(rows[i]).data(DatasetModel::RelativePathRole).toString();
        if (rows.size() > 5)
            out << tr("… %n more", "", int(rows.size() - 5));
        return out.join(QStringLiteral("\n  "));
    };
    const QString otherName = r.otherIsModel ? tr("the other model") : QFileInfo(r.otherFile).fileName();
    for (const auto& d : *m_details) {
        auto* item = new QTreeWidgetItem(changed);
        const QModelIndex idx = m_dataset->index(d.row);
        item->setText(0, idx.data(DatasetModel::RelativePathRole).toString());
        item->setText(1, QString::number(d.overlap, 'f', 2));
        item->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        item->setData(0, kRowRole, d.row);
        const QString tip =
            tr("%1\nOverlap %2: %3 of %4 neighbours in common\nNeighbours now only:\n  %5\nNeighbours in "
               "%6 only:\n  %7")
                .arg(idx.data(DatasetModel::PathRole).toString())
                .arg(d.overlap, 0, 'f', 2)
                .arg(int(std::lround(d.overlap * r.k)))
                .arg(r.k)
                .arg(names(d.onlyCurrent), otherName, names(d.onlyOther));
        item->setToolTip(0, tip);
        item->setToolTip(1, tip);
    }
    changed->setExpanded(true);

    // The map: how much each image's neighbourhood changed (rows not compared: 0).
    QVector<float> change(r.overlap.size(), 0.0f);
    for (int i = 0; i < r.overlap.size(); ++i)
        change[i] = std::isnan(r.overlap[i]) ? 0.0f : 1.0f - r.overlap[i];
    Q_EMIT scoresReady(scoreName(), change);
    showOtherMap();
    QString status = tr("The map is coloured by neighbourhood change (1 − overlap, in five bands from the least to the "
                        "most change seen): the brighter a point, the more of its neighbours changed. Select an image "
                        "to see it on the map.");
    if (r.onlyCurrent > 0 || r.onlyOther > 0)
        status += QLatin1Char(' ') + tr("Not compared: %1 image(s) missing from the other embedding, %2 in it but not "
                                        "in the open data set.")
                                         .arg(r.onlyCurrent)
                                         .arg(r.onlyOther);
    m_status->setText(status);
}

void ComparePanel::showOtherMap() {
    const bool shown = m_result && !m_result->otherLayout.isEmpty();
    m_otherMap->setVisible(shown);
    m_otherCaption->setVisible(shown);
    if (!shown) {
        m_otherMap->setPositions({});
        return;
    }
    const auto& r = *m_result;
    m_otherCaption->setText(
        r.alignedToMainMap
            ? tr("<b>%1</b>, projected like the main map and aligned onto it (rotation, reflection, scale, shift):")
                  .arg(r.otherName.toHtmlEscaped())
            : tr("<b>%1</b>: PCA map aligned onto the current embeddings' PCA map (compute the main map for the "
                 "two to line up):")
                  .arg(r.otherName.toHtmlEscaped()));
    if (!m_splitSized && m_split->height() > 100) {
        // First shown: the map takes three fifths of the height, the list the rest.
        const int h = m_split->height();
        m_split->setSizes({h * 3 / 5, h - h * 3 / 5});
        m_splitSized = true;
    }
    const bool sameCount = m_otherMap->pointCount() == r.otherLayout.size();
    m_otherMap->setPositions(r.otherLayout, /*animate=*/sameCount, /*fitView=*/true);
    // The main map's colours (after scoresReady: the neighbourhood-change bands), else classes.
    if (m_mainMap && m_mainMap->categories().size() == r.otherLayout.size()) {
        m_otherMap->copyColoursFrom(*m_mainMap);
    } else {
        QVector<int> cls(r.otherLayout.size(), 0);
        int classes = 1;
        for (int i = 0; i < cls.size(); ++i) {
            cls[i] = m_dataset->index(i).data(DatasetModel::ClassIdRole).toInt();
            classes = std::max(classes, cls[i] + 1);
        }
        m_otherMap->setCategories(cls, {}, categoricalPalette(classes));
    }
    QStringList labels, paths;
    labels.reserve(r.otherLayout.size());
    for (int i = 0; i < r.otherLayout.size(); ++i) {
        const QModelIndex idx = m_dataset->index(i);
        paths << idx.data(DatasetModel::PathRole).toString();
        QString text = idx.data(DatasetModel::RelativePathRole).toString();
        if (!std::isnan(r.overlap.value(i)))
            text += QLatin1Char('\n') + tr("overlap %1").arg(r.overlap[i], 0, 'f', 2);
        labels << text;
    }
    m_otherMap->setLabels(labels);
    m_otherMap->setImagePaths(m_thumbs ? paths : QStringList(), m_thumbs);
    if (m_mainMap)
        m_otherMap->setSelection(m_mainMap->selection());
}

QString ComparePanel::summary() const {
    if (!m_result)
        return {};
    const auto& r = *m_result;
    return tr("<b>Current model vs %1</b><br>Mean neighbourhood overlap <b>%2</b> (k = %3) over %4 images · "
              "Procrustes residual of the two maps <b>%5</b> · %6 s")
        .arg(r.otherName.toHtmlEscaped())
        .arg(r.meanOverlap, 0, 'f', 3)
        .arg(r.k)
        .arg(r.compared)
        .arg(r.procrustesResidual, 0, 'f', 3)
        .arg(r.seconds, 0, 'f', 2);
}

} // namespace vitrine::ui
