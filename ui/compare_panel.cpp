#include "ui/compare_panel.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
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
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/workspace.h"

namespace fs = std::filesystem;

namespace vitrine::ui {

namespace {

constexpr int kRowRole = Qt::UserRole + 1; ///< data set row of an image item
/// How many changed images the list shows (the map shows them all).
constexpr int kListed = 500;

} // namespace

struct ComparePanel::Detail {
    int row = -1;        ///< data set row
    float overlap = 1.0f;
    QVector<int> onlyCurrent; ///< data set rows, neighbours under the current model only
    QVector<int> onlyOther;   ///< data set rows, neighbours under the file only
};

QString ComparePanel::scoreName() { return tr("neighbourhood change"); }

ComparePanel::ComparePanel(Workspace* workspace, DatasetModel* dataset, QWidget* parent)
    : QWidget(parent), m_workspace(workspace), m_dataset(dataset), m_runner(new JobRunner(tr("Compare"), this)),
      m_choose(new QPushButton(tr("Compare With…"))), m_cancel(new QPushButton(tr("Cancel"))), m_k(new QSpinBox),
      m_summary(new QLabel), m_tree(new QTreeWidget), m_status(new QLabel) {
    m_choose->setToolTip(tr("Compare the current model's embeddings of this data set with an embeddings file of the "
                            "same images (.npy, .safetensors or .csv, as File > Export Embeddings or vitrine-cli embed "
                            "write them): which images' neighbours changed (Ctrl+Shift+K)"));
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
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_summary);
    layout->addWidget(m_tree, 1);
    layout->addWidget(m_status);

    connect(m_choose, &QPushButton::clicked, this, &ComparePanel::chooseAndCompare);
    connect(m_cancel, &QPushButton::clicked, m_runner, &JobRunner::cancel);
    connect(m_k, qOverload<int>(&QSpinBox::valueChanged), this,
            [](int k) { QSettings().setValue(QStringLiteral("compare/k"), k); });
    connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
        if (item && item->data(0, kRowRole).isValid())
            Q_EMIT rowActivated(item->data(0, kRowRole).toInt());
    });
    connect(m_runner, &JobRunner::progress, this, [this](qint64 done, qint64 total, const QString& stage) {
        m_status->setText(total > 0 ? tr("Comparing: %1 %2 of %3…").arg(stage).arg(done).arg(total)
                                    : tr("Comparing: %1…").arg(stage));
    });
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        m_status->setText(QStringLiteral("<span style='color:#c0392b'><b>%1</b> %2</span><br>%3")
                              .arg(tr("Comparison failed:"), message.toHtmlEscaped(),
                                   tr("Choose an embeddings file of this data set (.npy or .safetensors with its "
                                      ".rows.tsv beside it, or a .csv), e.g. one written by File > Export "
                                      "Embeddings.")
                                       .toHtmlEscaped()));
    });
    connect(m_runner, &JobRunner::cancelled, this, [this] { m_status->setText(tr("Comparison cancelled.")); });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_choose->setEnabled(true);
        m_cancel->setVisible(false);
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

void ComparePanel::chooseAndCompare() {
    if (m_runner->busy())
        return;
    if (!m_workspace->hasEmbeddings()) {
        m_status->setText(tr("Nothing to compare yet: open a data set and compute its map (F5) first."));
        return;
    }
    QSettings s;
    const QString start = s.value(QStringLiteral("compare/lastFile"), s.value(QStringLiteral("export/path"), QDir::homePath()))
                              .toString();
    const QString file = QFileDialog::getOpenFileName(
        this, tr("Compare With Embeddings"), start,
        tr("Embeddings (*.npy *.safetensors *.csv);;All files (*)"));
    if (file.isEmpty())
        return;
    compareWith(file);
}

void ComparePanel::compareWith(const QString& file) {
    if (m_runner->busy())
        return;
    if (!m_workspace->hasEmbeddings()) {
        m_status->setText(tr("Nothing to compare yet: open a data set and compute its map (F5) first."));
        return;
    }
    QSettings().setValue(QStringLiteral("compare/lastFile"), file);
    // The embedded rows, named as the exporters name them (path relative to the data set).
    const auto& ds = m_dataset->dataset();
    const auto& rowOf = m_workspace->embeddingRowOf();
    const core::Matrix& all = m_workspace->embeddings();
    auto table = std::make_shared<core::io::RowTable>();
    table->columns = {"path", "label"};
    std::vector<std::int64_t> picked;
    QVector<int> toDataset;
    const int level = m_dataset->labelLevel();
    for (int r = 0; r < rowOf.size() && r < int(ds.samples.size()); ++r) {
        if (rowOf[r] < 0 || rowOf[r] >= all.rows)
            continue;
        picked.push_back(rowOf[r]);
        toDataset << r;
        const auto& s = ds.samples[std::size_t(r)];
        table->rows.push_back({s.relativePath, core::data::Dataset::labelAt(s, level)});
    }
    auto current = std::make_shared<core::Matrix>(core::analysis::pickRows(all, picked));
    const int k = m_k->value();
    const int datasetRows = m_dataset->rowCount();
    const bool started = m_runner->start([this, file, current, table, toDataset, k, datasetRows](
                                             const JobRunner::Context& ctx) -> std::function<void()> {
        QElapsedTimer clock; // the whole job (reading the file, PCA, both neighbour searches)
        clock.start();
        const fs::path path = file.toStdString();
        auto other = core::io::loadEmbeddingSet(path);
        const auto match = core::analysis::matchRowsByPath(*table, other.rows);
        std::vector<std::int64_t> rowsA, rowsB;
        for (std::size_t i = 0; i < match.size(); ++i)
            if (match[i] >= 0) {
                rowsA.push_back(std::int64_t(i));
                rowsB.push_back(match[i]);
            }
        if (rowsA.size() < 2)
            throw core::Error(path, "only " + std::to_string(rowsA.size()) + " of its " + std::to_string(other.rows.size()) +
                                        " images are in the open data set (matched by the \"path\" column, relative "
                                        "to the data set folder); it needs two or more. Was it written for another "
                                        "data set?");
        core::io::RowTable rows;
        rows.columns = table->columns;
        for (auto r : rowsA)
            rows.rows.push_back(table->rows[std::size_t(r)]);
        const core::Matrix ea = core::analysis::pickRows(*current, rowsA), eb = core::analysis::pickRows(other.embeddings, rowsB);
        // The maps: each embedding's first two principal components, as vitrine-cli compare does.
        const auto mapA = core::analysis::pca(ea, {}, {}, &ctx.cancel), mapB = core::analysis::pca(eb, {}, {}, &ctx.cancel);
        core::analysis::CompareOptions co;
        co.k = k;
        co.mapA = &mapA;
        co.mapB = &mapB;
        const auto rep = core::analysis::compareEmbeddings(ea, eb, rows, co, ctx.progress, &ctx.cancel);

        auto view = std::make_shared<ComparisonView>();
        view->otherFile = file;
        view->k = rep.k;
        view->compared = int(rowsA.size());
        view->onlyCurrent = int(table->rows.size() - rowsA.size());
        view->onlyOther = int(other.rows.size() - std::int64_t(rowsA.size()));
        view->meanOverlap = rep.meanOverlap;
        view->procrustesResidual = rep.procrustes ? rep.procrustes->residual : 0.0;
        view->seconds = double(clock.elapsed()) / 1000.0;
        view->overlap = QVector<float>(datasetRows, std::numeric_limits<float>::quiet_NaN());
        auto datasetRow = [&](std::int64_t comparedRow) { return toDataset[int(rowsA[std::size_t(comparedRow)])]; };
        for (std::size_t i = 0; i < rep.overlap.size(); ++i)
            view->overlap[datasetRow(std::int64_t(i))] = rep.overlap[i];
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
        m_choose->setEnabled(false);
        m_cancel->setVisible(true);
        m_status->setText(tr("Comparing with %1…").arg(QFileInfo(file).fileName()));
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
    const QString otherName = QFileInfo(r.otherFile).fileName();
    for (const auto& d : *m_details) {
        auto* item = new QTreeWidgetItem(changed);
        const QModelIndex idx = m_dataset->index(d.row);
        item->setText(0, idx.data(DatasetModel::RelativePathRole).toString());
        item->setText(1, QString::number(d.overlap, 'f', 2));
        item->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        item->setData(0, kRowRole, d.row);
        const QString tip = tr("%1\nOverlap %2: %3 of %4 neighbours in common\nNeighbours now only:\n  %5\nNeighbours in "
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
    QString status = tr("The map is coloured by neighbourhood change (1 − overlap, in five bands from the least to the "
                        "most change seen): the brighter a point, the more of its neighbours changed. Select an image "
                        "to see it on the map.");
    if (r.onlyCurrent > 0 || r.onlyOther > 0)
        status += QLatin1Char(' ') + tr("Not compared: %1 image(s) missing from the file, %2 in the file but not in the "
                                        "open data set.")
                                         .arg(r.onlyCurrent)
                                         .arg(r.onlyOther);
    m_status->setText(status);
}

QString ComparePanel::summary() const {
    if (!m_result)
        return {};
    const auto& r = *m_result;
    return tr("<b>Current model vs %1</b><br>Mean neighbourhood overlap <b>%2</b> (k = %3) over %4 images · "
              "Procrustes residual of the PCA maps <b>%5</b> · %6 s")
        .arg(QFileInfo(r.otherFile).fileName().toHtmlEscaped())
        .arg(r.meanOverlap, 0, 'f', 3)
        .arg(r.k)
        .arg(r.compared)
        .arg(r.procrustesResidual, 0, 'f', 3)
        .arg(r.seconds, 0, 'f', 2);
}

} // namespace vitrine::ui
