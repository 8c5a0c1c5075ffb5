#include "ui/audit_panel.h"

#include <QDir>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "core/analysis/audit.h"
#include "core/data/dataset.h"
#include "core/data/file_actions.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/workspace.h"

namespace fs = std::filesystem;

namespace vitrine::ui {

namespace {

constexpr int kRowRole = Qt::UserRole + 1;       ///< data set row of an image item
constexpr int kSuggestedRole = Qt::UserRole + 2; ///< suggested class (mislabels)

QString q(const std::string& s) { return QString::fromStdString(s); }

/// The data set's root and a sample's path relative to it ("" when the sample lies elsewhere:
/// images added from other folders are not the data set's to move).
QString relativeToRoot(const core::data::Dataset& ds, const core::data::Sample& s) {
    std::error_code ec;
    const auto rel = fs::relative(s.path, ds.root, ec);
    const std::string text = rel.generic_string();
    if (ec || text.empty() || text.rfind("..", 0) == 0)
        return {};
    return q(text);
}

} // namespace

AuditPanel::AuditPanel(Workspace* workspace, DatasetModel* dataset, QWidget* parent)
    : QWidget(parent), m_workspace(workspace), m_dataset(dataset),
      m_runner(new JobRunner(QStringLiteral("audit"), this)), m_tree(new QTreeWidget), m_status(new QLabel),
      m_threshold(new QDoubleSpinBox), m_run(new QPushButton(tr("Audit"))), m_cancel(new QPushButton(tr("Cancel"))),
      m_moveSuggested(new QPushButton(tr("Move to Suggested Class"))), m_trash(new QPushButton(tr("Move to Trash"))),
      m_undoFix(new QPushButton(tr("Undo Fix"))) {
    m_run->setToolTip(tr("Find duplicates, leakage across the split or labels, likely mislabels and outliers in "
                         "the open data set, from the current model's embeddings"));
    m_cancel->setToolTip(tr("Stop the audit; the last results stay"));
    m_cancel->setVisible(false);
    m_threshold->setRange(0.0, 0.5);
    m_threshold->setDecimals(4);
    m_threshold->setSingleStep(0.005);
    m_threshold->setSpecialValueText(tr("auto"));
    m_threshold->setToolTip(tr("Cosine distance under which two images count as near duplicates. auto: half the "
                               "median distance from an image to its nearest neighbour (shown after an audit)."));
    m_threshold->setAccessibleName(tr("Near-duplicate distance"));
    m_moveSuggested->setToolTip(tr("Move the selected likely mislabels into the folder of the class their neighbours "
                                   "carry. Journaled: Undo Fix puts them back byte for byte."));
    m_trash->setToolTip(tr("Move the selected images to the desktop trash (restorable from there, or with Undo Fix)"));
    m_undoFix->setToolTip(tr("Undo the last move or trash, byte for byte"));
    m_tree->setColumnCount(2);
    m_tree->setHeaderLabels({tr("Image"), tr("Why")});
    m_tree->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_tree->setAccessibleName(tr("Audit results"));
    m_tree->setUniformRowHeights(true);
    m_tree->setTextElideMode(Qt::ElideMiddle); // keep the class folder and the file name
    m_status->setWordWrap(true);
    m_status->setText(tr("Audit the data set once its map is computed: duplicates, leakage, likely mislabels and "
                         "outliers, with fixes that can be undone."));

    // Narrow rows: the panel shares the right dock with Neighbours and must not widen it.
    auto* top = new QHBoxLayout;
    top->addWidget(m_run);
    top->addWidget(m_cancel);
    top->addStretch(1);
    auto* thresholdRow = new QHBoxLayout;
    auto* thresholdLabel = new QLabel(tr("Near duplicates ≤"));
    thresholdLabel->setBuddy(m_threshold);
    thresholdRow->addWidget(thresholdLabel);
    thresholdRow->addWidget(m_threshold, 1);
    auto* fixes = new QHBoxLayout;
    fixes->addWidget(m_moveSuggested);
    fixes->addStretch(1);
    auto* fixes2 = new QHBoxLayout;
    fixes2->addWidget(m_trash);
    fixes2->addWidget(m_undoFix);
    fixes2->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addLayout(thresholdRow);
    layout->addWidget(m_tree, 1);
    layout->addLayout(fixes);
    layout->addLayout(fixes2);
    layout->addWidget(m_status);

    connect(m_run, &QPushButton::clicked, this, &AuditPanel::runAudit);
    connect(m_cancel, &QPushButton::clicked, m_runner, &JobRunner::cancel);
    connect(m_moveSuggested, &QPushButton::clicked, this, [this] { moveSelected(); });
    connect(m_trash, &QPushButton::clicked, this, &AuditPanel::trashSelected);
    connect(m_undoFix, &QPushButton::clicked, this, &AuditPanel::undoLastFix);
    connect(m_tree, &QTreeWidget::itemSelectionChanged, this, &AuditPanel::updateButtons);
    connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
        if (item && item->data(0, kRowRole).isValid())
            Q_EMIT rowActivated(item->data(0, kRowRole).toInt());
    });
    connect(m_runner, &JobRunner::progress, this, [this](qint64 done, qint64 total, const QString& stage) {
        m_status->setText(total > 0 ? tr("Auditing: %1 %2 of %3…").arg(stage).arg(done).arg(total)
                                    : tr("Auditing: %1…").arg(stage));
    });
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        m_status->setText(QStringLiteral("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped()));
    });
    connect(m_runner, &JobRunner::cancelled, this, [this] { m_status->setText(tr("Audit cancelled.")); });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_run->setEnabled(true);
        m_cancel->setVisible(false);
        updateButtons();
    });
    // New embeddings (another model, a training step, another data set): the results are stale.
    connect(m_workspace, &Workspace::embeddingsChanged, this, [this] {
        if (m_report)
            m_status->setText(tr("The embeddings changed since this audit: run it again for current results."));
    });
    updateButtons();
}

AuditPanel::~AuditPanel() {
    m_runner->cancel();
    m_runner->waitForIdle(10000);
}

bool AuditPanel::busy() const { return m_runner->busy(); }

void AuditPanel::runAudit() {
    if (m_runner->busy())
        return;
    if (!m_workspace->hasEmbeddings()) {
        m_status->setText(tr("Nothing to audit yet: open a data set and compute its map (F5) first."));
        return;
    }
    // The embedded rows, with their absolute paths and labels at the chosen level.
    const auto rows = m_workspace->embeddedRows(/*absolutePaths=*/true);
    if (rows.toDataset.size() < 3) {
        m_status->setText(tr("An audit needs at least three embedded images."));
        return;
    }
    const auto embeddings = rows.embeddings;
    const auto table = rows.table;
    const QVector<int> toDataset = rows.toDataset;
    core::analysis::AuditOptions options;
    options.nearDuplicateDistance = m_threshold->value() > 0 ? float(m_threshold->value()) : -1.0f;
    const bool started = m_runner->start(
        [this, embeddings, table, options, toDataset](const JobRunner::Context& ctx) -> std::function<void()> {
            auto report = std::make_shared<core::analysis::AuditReport>(
                core::analysis::audit(*embeddings, *table, fs::path(), options, ctx.progress, &ctx.cancel));
            // Cosine distance of each image to its class's mean direction.
            const auto n = embeddings->rows, dim = embeddings->cols;
            std::map<std::string, std::vector<double>> centre;
            std::vector<std::vector<float>> unit(static_cast<std::size_t>(n),
                                                 std::vector<float>(static_cast<std::size_t>(dim)));
            for (std::int64_t i = 0; i < n; ++i) {
                double norm = 0;
                for (std::int64_t j = 0; j < dim; ++j)
                    norm += double(embeddings->row(i)[j]) * embeddings->row(i)[j];
                norm = std::max(std::sqrt(norm), 1e-12);
                auto& c = centre[table->rows[std::size_t(i)][1]];
                c.resize(std::size_t(dim), 0.0);
                for (std::int64_t j = 0; j < dim; ++j) {
                    unit[std::size_t(i)][std::size_t(j)] = float(embeddings->row(i)[j] / norm);
                    c[std::size_t(j)] += unit[std::size_t(i)][std::size_t(j)];
                }
            }
            for (auto& [label, c] : centre) {
                double norm = 0;
                for (double v : c)
                    norm += v * v;
                norm = std::max(std::sqrt(norm), 1e-12);
                for (double& v : c)
                    v /= norm;
            }
            QVector<float> distance(toDataset.isEmpty() ? 0 : *std::max_element(toDataset.begin(), toDataset.end()) + 1,
                                    0.0f);
            for (std::int64_t i = 0; i < n; ++i) {
                const auto& c = centre[table->rows[std::size_t(i)][1]];
                double dot = 0;
                for (std::int64_t j = 0; j < dim; ++j)
                    dot += unit[std::size_t(i)][std::size_t(j)] * c[std::size_t(j)];
                distance[toDataset[int(i)]] = float(1.0 - dot);
            }
            return [this, report, toDataset, distance] {
                m_report = report;
                m_auditRowToDataset = toDataset;
                m_classDistance = distance;
                m_classDistance.resize(m_dataset->rowCount());
                showReport();
            };
        });
    if (started) {
        m_run->setEnabled(false);
        m_cancel->setVisible(true);
        m_status->setText(tr("Auditing…"));
    }
}

QTreeWidgetItem* AuditPanel::addRowItem(QTreeWidgetItem* parent, int row, const QString& detail) {
    auto* item = new QTreeWidgetItem(parent);
    const QModelIndex idx = m_dataset->index(row);
    item->setText(0, idx.data(DatasetModel::RelativePathRole).toString());
    item->setToolTip(0, idx.data(DatasetModel::PathRole).toString());
    item->setText(1, detail);
    item->setToolTip(1, detail);
    item->setData(0, kRowRole, row);
    return item;
}

void AuditPanel::showReport() {
    m_tree->clear();
    if (!m_report)
        return;
    const auto& r = *m_report;
    auto datasetRow = [this](std::int64_t auditRow) { return m_auditRowToDataset.value(int(auditRow), -1); };
    auto section = [this](const QString& title, std::size_t count, const QString& tip) {
        auto* item = new QTreeWidgetItem(m_tree);
        item->setText(0, QStringLiteral("%1 (%2)").arg(title).arg(count));
        item->setToolTip(0, tip);
        item->setFirstColumnSpanned(true);
        QFont bold = item->font(0);
        bold.setBold(true);
        item->setFont(0, bold);
        return item;
    };

    auto* dup = section(tr("Duplicates"), r.duplicates.size(),
                        tr("Exact: the same pixels. Near: embeddings within the threshold."));
    for (const auto& g : r.duplicates) {
        auto* group = new QTreeWidgetItem(dup);
        group->setText(0, g.exact ? tr("%n identical image(s)", "", int(g.rows.size()))
                                  : tr("%n similar image(s)", "", int(g.rows.size())));
        group->setText(1, g.exact ? tr("same pixels") : tr("distance ≤ %1").arg(g.distance, 0, 'f', 4));
        for (auto row : g.rows)
            addRowItem(group, datasetRow(row), QString());
    }
    auto* leak = section(tr("Leakage"), r.leakage.size(),
                         tr("Duplicates in both the training and validation split, or under different labels: they "
                            "inflate validation figures or contradict each other."));
    for (const auto& l : r.leakage) {
        auto* group = new QTreeWidgetItem(leak);
        QStringList why;
        if (l.crossesSplit)
            why << tr("train and validation");
        if (l.mixedLabels)
            why << tr("different labels");
        group->setText(0, tr("%n image(s)", "", int(l.rows.size())));
        group->setText(1, why.join(QStringLiteral(" · ")));
        for (auto row : l.rows)
            addRowItem(group, datasetRow(row), q(r.splits.at(std::size_t(row))));
    }
    auto* mis = section(tr("Likely mislabels"), r.mislabels.size(),
                        tr("Images whose nearest neighbours mostly carry another class; the score is that class's "
                           "share of their (distance-weighted) vote."));
    for (const auto& m : r.mislabels) {
        auto* item = addRowItem(mis, datasetRow(m.row),
                                tr("%1 → %2 · %3").arg(q(m.label), q(m.suggested)).arg(m.score, 0, 'f', 2));
        item->setData(0, kSuggestedRole, q(m.suggested));
    }
    auto* out = section(tr("Outliers"), r.outliers.size(),
                        tr("The most isolated images: far from everything else. 0.5 and above is a clear outlier."));
    for (const auto& o : r.outliers)
        addRowItem(out, datasetRow(o.row),
                   tr("score %1 · distance %2").arg(o.score, 0, 'f', 2).arg(o.knnDistance, 0, 'f', 3));
    for (auto* s : {dup, leak, mis, out})
        s->setExpanded(s->childCount() > 0 && s->childCount() <= 30);

    // One score per data set row for the map (rows without an embedding get 0).
    QVector<float> mislabel(m_dataset->rowCount(), 0.0f), outlier(m_dataset->rowCount(), 0.0f);
    for (std::size_t i = 0; i < r.mislabelScore.size(); ++i) {
        const int row = datasetRow(std::int64_t(i));
        if (row >= 0 && row < mislabel.size()) {
            mislabel[row] = r.mislabelScore[i];
            outlier[row] = r.outlierScore[i];
        }
    }
    // How many copies each image has (0: none), from the duplicate groups.
    QVector<float> copies(m_dataset->rowCount(), 0.0f);
    for (const auto& g : r.duplicates)
        for (auto row : g.rows) {
            const int d = datasetRow(row);
            if (d >= 0 && d < copies.size())
                copies[d] = std::max(copies[d], float(g.rows.size() - 1));
        }
    Q_EMIT scoresReady(tr("mislabel score"), mislabel);
    Q_EMIT scoresReady(tr("outlier score"), outlier);
    Q_EMIT scoresReady(tr("duplicates"), copies);
    if (!m_classDistance.isEmpty())
        Q_EMIT scoresReady(tr("distance to class centre"), m_classDistance);
    m_status->setText(summary());
    if (!r.unreadable.empty())
        m_status->setText(m_status->text() +
                          tr(" %n duplicate candidate(s) could not be read.", "", int(r.unreadable.size())));
}

QString AuditPanel::summary() const {
    if (!m_report)
        return {};
    const auto& r = *m_report;
    return tr("%1 duplicate group(s), %2 leak(s), %3 likely mislabel(s), %4 outlier(s) listed · near duplicates: "
              "distance ≤ %5%6 · %7 s")
        .arg(r.duplicates.size())
        .arg(r.leakage.size())
        .arg(r.mislabels.size())
        .arg(r.outliers.size())
        .arg(r.nearDuplicateDistance, 0, 'f', 4)
        .arg(r.thresholdFromData ? tr(" (from the data)") : QString())
        .arg(r.seconds, 0, 'f', 2);
}

QVector<int> AuditPanel::selectedRows() const {
    std::set<int> rows;
    for (auto* item : m_tree->selectedItems()) {
        if (item->data(0, kRowRole).isValid())
            rows.insert(item->data(0, kRowRole).toInt());
        for (int c = 0; c < item->childCount(); ++c)
            if (item->child(c)->data(0, kRowRole).isValid())
                rows.insert(item->child(c)->data(0, kRowRole).toInt());
    }
    QVector<int> out;
    for (int r : rows)
        if (r >= 0)
            out << r;
    return out;
}

void AuditPanel::updateButtons() {
    const bool idle = !m_runner->busy();
    bool anySuggested = false;
    for (auto* item : m_tree->selectedItems())
        anySuggested = anySuggested || item->data(0, kSuggestedRole).isValid();
    m_moveSuggested->setEnabled(idle && anySuggested);
    m_trash->setEnabled(idle && !selectedRows().isEmpty());
    m_undoFix->setEnabled(idle && !m_fixes.isEmpty());
}

void AuditPanel::moveSelected(const QString& classFolder) {
    if (m_runner->busy())
        return;
    const auto& ds = m_dataset->dataset();
    // Group the files by destination folder (relative to the root): the suggested class's
    // folder is where images of that class already are.
    std::map<std::string, std::vector<std::string>> byFolder;
    QStringList refused;
    for (auto* item : m_tree->selectedItems()) {
        if (!item->data(0, kRowRole).isValid())
            continue;
        const int row = item->data(0, kRowRole).toInt();
        const QString target = classFolder.isEmpty() ? item->data(0, kSuggestedRole).toString() : classFolder;
        if (row < 0 || row >= int(ds.samples.size()) || target.isEmpty())
            continue;
        const QString rel = relativeToRoot(ds, ds.samples[std::size_t(row)]);
        // The folder of an image that has the target class at the current level.
        QString folder;
        for (const auto& s : ds.samples)
            if (q(core::data::Dataset::labelAt(s, m_dataset->labelLevel())) == target) {
                const QString other = relativeToRoot(ds, s);
                if (!other.isEmpty()) {
                    folder = QFileInfo(other).path();
                    break;
                }
            }
        if (rel.isEmpty() || folder.isEmpty()) {
            refused << QFileInfo(q(ds.samples[std::size_t(row)].path.string())).fileName();
            continue;
        }
        byFolder[folder.toStdString()].push_back(rel.toStdString());
    }
    if (byFolder.empty()) {
        m_status->setText(refused.isEmpty() ? tr("Select likely mislabels to move.")
                                            : tr("Cannot move %1: not inside the data set folder, or no folder holds "
                                                 "the suggested class.")
                                                  .arg(refused.join(QStringLiteral(", "))));
        return;
    }
    const fs::path root = ds.root;
    m_runner->start([this, root, byFolder](const JobRunner::Context&) -> std::function<void()> {
        core::data::FileActions files(root);
        std::vector<std::uint64_t> ids;
        int moved = 0;
        for (const auto& [folder, paths] : byFolder) {
            const auto action = files.moveToClass(paths, folder);
            ids.push_back(action.id);
            moved += int(action.files.size());
        }
        return [this, ids, moved] {
            for (auto id : ids)
                m_fixes << id;
            m_tree->clear();
            m_report.reset();
            m_status->setText(tr("Moved %n image(s) to their suggested class. Undo Fix puts them back; the data set is "
                                 "read again.",
                                 "", moved));
            Q_EMIT filesChanged();
        };
    });
}

void AuditPanel::trashSelected() {
    if (m_runner->busy())
        return;
    const auto& ds = m_dataset->dataset();
    std::vector<std::string> paths;
    for (int row : selectedRows()) {
        if (row >= int(ds.samples.size()))
            continue;
        const QString rel = relativeToRoot(ds, ds.samples[std::size_t(row)]);
        if (!rel.isEmpty())
            paths.push_back(rel.toStdString());
    }
    if (paths.empty()) {
        m_status->setText(tr("Select images inside the data set folder to move to the trash."));
        return;
    }
    const fs::path root = ds.root;
    m_runner->start([this, root, paths](const JobRunner::Context&) -> std::function<void()> {
        core::data::FileActions files(root);
        const auto action = files.trash(paths);
        return [this, action] {
            m_fixes << action.id;
            m_tree->clear();
            m_report.reset();
            m_status->setText(
                tr("Moved %n image(s) to the trash. Undo Fix brings them back; the data set is read again.", "",
                   int(action.files.size())));
            Q_EMIT filesChanged();
        };
    });
}

void AuditPanel::undoLastFix() {
    if (m_runner->busy() || m_fixes.isEmpty())
        return;
    const fs::path root = m_dataset->dataset().root;
    const quint64 id = m_fixes.takeLast();
    m_runner->start([this, root, id](const JobRunner::Context&) -> std::function<void()> {
        core::data::FileActions files(root);
        const auto action = files.undo(id);
        return [this, action] {
            m_tree->clear();
            m_report.reset();
            m_status->setText(tr("Restored %n image(s). The data set is read again.", "", int(action.files.size())));
            Q_EMIT filesChanged();
        };
    });
}

} // namespace vitrine::ui
