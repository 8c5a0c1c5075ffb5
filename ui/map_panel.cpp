#include "ui/map_panel.h"

#include <algorithm>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>
#include <limits>
#include <utility>

#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/scatter_view.h"
#include "ui/thumbnail_cache.h"
#include "ui/workspace.h"

namespace vitrine::ui {

namespace {

/// Lowest and highest score, NaN (no score) left out; {0, 1} when there is none.
std::pair<float, float> scoreRange(const QVector<float>& score) {
    float low = std::numeric_limits<float>::infinity(), high = -low;
    for (float v : score)
        if (!std::isnan(v)) {
            low = std::min(low, v);
            high = std::max(high, v);
        }
    return low <= high ? std::pair{low, high} : std::pair{0.0f, 1.0f};
}

} // namespace

MapPanel::MapPanel(Workspace* workspace, DatasetModel* dataset, ThumbnailCache* thumbs, QWidget* parent)
    : QWidget(parent), m_workspace(workspace), m_dataset(dataset), m_thumbs(thumbs), m_view(new ScatterView),
      m_method(new QComboBox), m_colourBy(new QComboBox), m_perplexity(new QDoubleSpinBox), m_neighbours(new QSpinBox),
      m_compute(new QPushButton(tr("Compute map"))), m_legend(new QListWidget), m_timeline(new QSlider(Qt::Horizontal)),
      m_timelineLabel(new QLabel), m_info(new QLabel) {
    m_method->addItems({tr("PCA"), tr("t-SNE"), tr("UMAP")});
    m_method->setToolTip(tr("PCA: instant, linear, keeps global structure.\nt-SNE: Barnes-Hut, keeps local "
                            "neighbourhoods.\nUMAP: fast, keeps local and some global structure."));
    m_colourBy->addItem(tr("Colour: class"));
    m_colourBy->addItem(tr("Colour: nearest neighbour same class?"));
    const QStringList attention = attentionScoreNames();
    const QStringList attentionTips = {
        tr("How evenly the class token's last-layer attention spreads over the patches (0: on a few patches, "
           "1: everywhere), mean over heads. Computed for every image the first time it is chosen."),
        tr("How few patches hold 60 % of the class token's attention rollout (the Inspector's mass mask): 0 even, "
           "towards 1 on a few patches."),
        tr("How many patch tokens have an outlying norm (the Inspector's High-norm tokens view): the artefact "
           "tokens of ViTs trained without registers.")};
    for (int i = 0; i < attention.size(); ++i) {
        m_colourBy->addItem(tr("Colour: %1").arg(attention[i]), attention[i]);
        m_colourBy->setItemData(m_colourBy->count() - 1, attentionTips[i], Qt::ToolTipRole);
    }
    m_colourBy->setToolTip(tr("Colour points by their class at the chosen level, by whether their nearest "
                              "neighbour in embedding space has the same class (green) or not (red), or by a "
                              "score per image (attention statistics, the audit's and a comparison's scores)."));
    m_perplexity->setRange(2, 200);
    m_perplexity->setValue(30);
    m_perplexity->setPrefix(tr("perplexity "));
    m_perplexity->setToolTip(tr("t-SNE perplexity: roughly the number of neighbours each point keeps close"));
    m_neighbours->setRange(2, 200);
    m_neighbours->setValue(15);
    m_neighbours->setPrefix(tr("neighbours "));
    m_neighbours->setToolTip(tr("UMAP n_neighbors: larger keeps more global structure"));
    m_compute->setToolTip(tr("Embed every image with the current model and project the embeddings to 2-D (F5)"));
    // F5 belongs to the window's Compute Map action (toolbar and Run menu).
    m_legend->setMaximumWidth(170);
    m_legend->setToolTip(tr("Classes: untick to hide"));
    m_timeline->setEnabled(false);
    m_timeline->setToolTip(tr("Replay how the map changed during training"));
    m_timeline->setAccessibleName(tr("Training timeline"));
    m_info->setWordWrap(true);
    m_info->setObjectName(QStringLiteral("mapInfo"));

    // The legend can fold away, giving the map the panel's whole width.
    m_legendToggle = new QToolButton;
    m_legendToggle->setText(tr("Legend"));
    m_legendToggle->setCheckable(true);
    m_legendToggle->setChecked(QSettings().value(QStringLiteral("map/legend"), true).toBool());
    m_legendToggle->setToolTip(tr("Show or hide the class legend (Ctrl+L)"));
    m_legendToggle->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    m_legend->setVisible(m_legendToggle->isChecked());
    connect(m_legendToggle, &QToolButton::toggled, this, [this](bool on) {
        m_legend->setVisible(on);
        QSettings().setValue(QStringLiteral("map/legend"), on);
    });
    m_method->setAccessibleName(tr("Projection method"));
    m_colourBy->setAccessibleName(tr("Point colour"));
    m_compute->setAccessibleName(tr("Compute map"));

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_method);
    controls->addWidget(m_perplexity);
    controls->addWidget(m_neighbours);
    controls->addWidget(m_colourBy, 1);
    controls->addWidget(m_legendToggle);
    controls->addWidget(m_compute);
    // Attention statistics being computed: progress, ETA and Cancel.
    m_statsRow = new QWidget;
    m_statsProgress = new QProgressBar;
    m_statsProgress->setAccessibleName(tr("Attention statistics progress"));
    m_statsNote = new QLabel;
    m_statsNote->setWordWrap(true);
    m_statsNote->hide();
    auto* statsCancel = new QToolButton;
    statsCancel->setText(tr("Cancel"));
    statsCancel->setToolTip(tr("Stop computing the attention statistics (the map keeps its colours)"));
    auto* statsLayout = new QHBoxLayout(m_statsRow);
    statsLayout->setContentsMargins(0, 0, 0, 0);
    statsLayout->addWidget(new QLabel(tr("Attention statistics")));
    statsLayout->addWidget(m_statsProgress, 1);
    statsLayout->addWidget(statsCancel);
    m_statsRow->hide();
    JobRunner* stats = m_workspace->statisticsRunner();
    connect(statsCancel, &QToolButton::clicked, stats, &JobRunner::cancel);
    connect(stats, &JobRunner::started, this, [this] {
        m_statsProgress->setRange(0, 0);
        m_statsRow->show();
    });
    connect(stats, &JobRunner::progress, this, [this, stats](qint64 done, qint64 total, const QString&) {
        m_statsProgress->setRange(0, int(std::max<qint64>(total, 1)));
        m_statsProgress->setValue(int(done));
        const double eta = stats->etaSeconds();
        m_statsProgress->setFormat(eta >= 0 ? tr("%v / %m images · %1 left").arg(formatEta(eta))
                                            : tr("%v / %m images"));
    });
    connect(stats, &JobRunner::idle, m_statsRow, &QWidget::hide);
    connect(m_workspace, &Workspace::attentionStatisticsReady, this,
            [this](const QVector<float>& entropy, const QVector<float>& concentration, const QVector<float>& highNorm,
                   const QString& note) {
                const QStringList names = attentionScoreNames();
                m_scores[names[0]] = entropy;
                m_scores[names[1]] = concentration;
                m_scores[names[2]] = highNorm;
                m_statsNote->setText(tr("Attention statistics: %1").arg(note));
                if (names.contains(m_colourBy->currentData().toString()))
                    refreshColours();
            });
    // Statistics belong to one model and one data set.
    connect(m_workspace, &Workspace::modelChanged, this, [this] { clearAttentionScores(); });
    connect(m_dataset, &QAbstractItemModel::modelReset, this, [this] { clearAttentionScores(); });

    // The range filter of the score the map is coloured by.
    m_rangeRow = new QWidget;
    m_rangeFrom = new QDoubleSpinBox;
    m_rangeTo = new QDoubleSpinBox;
    m_rangeFrom->setAccessibleName(tr("Score from"));
    m_rangeTo->setAccessibleName(tr("Score to"));
    m_rangeFrom->setToolTip(tr("Hide the points whose score is below this"));
    m_rangeTo->setToolTip(tr("Hide the points whose score is above this"));
    m_rangeCount = new QLabel;
    auto* rangeReset = new QToolButton;
    rangeReset->setText(tr("All"));
    rangeReset->setToolTip(tr("Show every score again"));
    auto* rangeLayout = new QHBoxLayout(m_rangeRow);
    rangeLayout->setContentsMargins(0, 0, 0, 0);
    rangeLayout->addWidget(new QLabel(tr("Show scores from")));
    rangeLayout->addWidget(m_rangeFrom);
    rangeLayout->addWidget(new QLabel(tr("to")));
    rangeLayout->addWidget(m_rangeTo);
    rangeLayout->addWidget(rangeReset);
    rangeLayout->addWidget(m_rangeCount, 1);
    m_rangeRow->hide();
    connect(m_rangeFrom, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &MapPanel::applyRangeFilter);
    connect(m_rangeTo, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &MapPanel::applyRangeFilter);
    connect(rangeReset, &QToolButton::clicked, this, [this] {
        resetRange(false);
        applyRangeFilter();
    });

    auto* split = new QSplitter;
    split->addWidget(m_view);
    split->addWidget(m_legend);
    split->setStretchFactor(0, 1);
    auto* timeline = new QHBoxLayout;
    timeline->addWidget(new QLabel(tr("Timeline")));
    timeline->addWidget(m_timeline, 1);
    timeline->addWidget(m_timelineLabel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(m_statsRow);
    layout->addWidget(m_statsNote);
    layout->addWidget(m_rangeRow);
    layout->addWidget(split, 1);
    layout->addLayout(timeline);
    layout->addWidget(m_info);

    auto updateParamVisibility = [this] {
        m_perplexity->setVisible(m_method->currentIndex() == 1);
        m_neighbours->setVisible(m_method->currentIndex() == 2);
    };
    updateParamVisibility();
    connect(m_method, qOverload<int>(&QComboBox::currentIndexChanged), this, updateParamVisibility);
    connect(m_method, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (m_workspace->hasEmbeddings())
            m_workspace->computeLayout(settings());
    });
    connect(m_compute, &QPushButton::clicked, this, [this] {
        m_workspace->setProjectionSettings(settings());
        m_workspace->computeEmbeddings();
    });
    // The colouring is remembered (class, nearest neighbour or an attention statistic; the
    // audit's and a comparison's scores exist only once those have run).
    const QString remembered = QSettings().value(QStringLiteral("map/colourBy")).toString();
    if (const int index = remembered.isEmpty() ? -1 : m_colourBy->findData(remembered); index >= 0)
        m_colourBy->setCurrentIndex(index);
    else if (remembered == QLatin1String("#nearest"))
        m_colourBy->setCurrentIndex(1);
    connect(m_colourBy, qOverload<int>(&QComboBox::currentIndexChanged), this, &MapPanel::colourChoiceChanged);
    connect(m_colourBy, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
        const QString name = m_colourBy->currentData().toString();
        const bool lasting = index <= 1 || attentionScoreNames().contains(name);
        if (lasting)
            QSettings().setValue(QStringLiteral("map/colourBy"), index == 1 ? QStringLiteral("#nearest") : name);
    });
    connect(m_dataset, &QAbstractItemModel::modelReset, this, [this] { m_labelsValid = false; });
    connect(m_dataset, &QAbstractItemModel::rowsInserted, this, [this] { m_labelsValid = false; });
    connect(m_dataset, &QAbstractItemModel::rowsRemoved, this, [this] { m_labelsValid = false; });
    connect(m_dataset, &DatasetModel::classesChanged, this, [this] {
        m_labelsValid = false;
        m_workspace->refreshNearestSameClass();
        refreshColours();
        updateInfo();
    });
    connect(m_workspace, &Workspace::layoutChanged, this, &MapPanel::showLayout);
    connect(m_workspace, &Workspace::analysisNoteChanged, this, &MapPanel::updateInfo);
    connect(m_legend, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        m_view->setCategoryVisible(item->data(Qt::UserRole).toInt(), item->checkState() == Qt::Checked);
    });
    connect(m_view, &ScatterView::pointClicked, this, &MapPanel::rowActivated);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view, &QWidget::customContextMenuRequested, this, &MapPanel::showContextMenu);
    connect(m_view, &ScatterView::selectionChanged, this, [this](const QSet<int>& sel) {
        QList<int> rows(sel.begin(), sel.end());
        std::sort(rows.begin(), rows.end());
        m_info->setText(rows.isEmpty() ? QString() : tr("%n image(s) selected", "", int(rows.size())));
        Q_EMIT rowsSelected(rows);
    });
    connect(m_timeline, &QSlider::valueChanged, this, &MapPanel::showHistory);
    refreshColours();
}

ProjectionSettings MapPanel::settings() const {
    ProjectionSettings s;
    s.method = ProjectionMethod(m_method->currentIndex());
    s.perplexity = m_perplexity->value();
    s.umapNeighbours = m_neighbours->value();
    return s;
}

void MapPanel::refreshColours() {
    const int n = m_dataset->rowCount();
    QVector<int> cats(n);
    if (!m_labelsValid || m_view->pointCount() != m_labelledPoints) {
        // Hover texts and thumbnail paths change with the data set and the class level, not
        // with the colouring: built once for those (100,000 rows take tens of ms).
        QStringList labels;
        QStringList paths;
        labels.reserve(n);
        paths.reserve(n);
        for (int r = 0; r < n; ++r) {
            QModelIndex idx = m_dataset->index(r);
            paths << idx.data(DatasetModel::PathRole).toString();
            labels << QStringLiteral("%1\n%2").arg(idx.data(DatasetModel::ClassRole).toString(),
                                                   idx.data(DatasetModel::RelativePathRole).toString());
        }
        m_view->setImagePaths(paths, m_thumbs);
        m_view->setLabels(labels);
        m_labelsValid = true;
        m_labelledPoints = m_view->pointCount();
    }
    QStringList names;
    QVector<QColor> palette;
    const QString scoreName = m_colourBy->currentData().toString();
    if (!scoreName.isEmpty() && m_scores.value(scoreName).size() == n) {
        // Five bands of the score, low (dark blue) to high (yellow), as in viridis, of equal
        // width over the range the scores actually take: a score that only reaches 0.4 (a
        // neighbourhood change, say) still uses every colour. The combo box names the score,
        // so the legend shows only each band's range (it is 170 px wide).
        // Images without a score (unreadable for the attention statistics) get a grey sixth
        // entry.
        const auto& score = m_scores[scoreName];
        const auto [low, top] = scoreRange(score);
        const float high = std::max(top, low + 1e-6f);
        palette = {QColor(68, 1, 84), QColor(59, 82, 139), QColor(33, 145, 140), QColor(94, 201, 98),
                   QColor(253, 231, 37)};
        const float step = (high - low) / 5.0f;
        const int digits = step >= 1.0f ? 0 : step >= 0.01f ? 2 : 3;
        for (int b = 0; b < 5; ++b)
            names << tr("%1–%2").arg(low + b * step, 0, 'f', digits).arg(low + (b + 1) * step, 0, 'f', digits);
        bool missing = false;
        for (int r = 0; r < n; ++r) {
            missing = missing || std::isnan(score[r]);
            cats[r] = std::isnan(score[r]) ? 5 : std::clamp(int((score[r] - low) / step), 0, 4);
        }
        if (missing) {
            names << tr("no score");
            palette << QColor(150, 150, 150);
        }
    } else if (m_colourBy->currentIndex() == 1 && m_workspace->nearestSameClass().size() == n) {
        names = {tr("nearest neighbour: same class"), tr("nearest neighbour: other class")};
        palette = {QColor(60, 160, 80), QColor(210, 40, 40)};
        for (int r = 0; r < n; ++r)
            cats[r] = m_workspace->nearestSameClass()[r] ? 0 : 1;
    } else {
        names = m_dataset->classNames();
        palette = categoricalPalette(int(names.size()));
        for (int r = 0; r < n; ++r)
            cats[r] = m_dataset->data(m_dataset->index(r), DatasetModel::ClassIdRole).toInt();
    }
    m_view->setCategories(cats, names, palette);
    QVector<bool> marked;
    if (m_workspace->nearestSameClass().size() == n) {
        marked.resize(n);
        for (int r = 0; r < n; ++r)
            marked[r] = !m_workspace->nearestSameClass()[r];
    }
    m_view->setMarked(m_colourBy->currentIndex() == 0 ? marked : QVector<bool>{});
    m_legend->blockSignals(true);
    m_legend->clear();
    QVector<int> counts(names.size(), 0);
    for (int c : cats)
        if (c >= 0 && c < counts.size())
            ++counts[c];
    for (int i = 0; i < names.size(); ++i) {
        QPixmap swatch(12, 12);
        swatch.fill(palette[i]);
        auto* item = new QListWidgetItem(QIcon(swatch), QStringLiteral("%1 (%2)").arg(names[i]).arg(counts[i]));
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(Qt::Checked);
        item->setData(Qt::UserRole, i);
        m_legend->addItem(item);
    }
    m_legend->blockSignals(false);

    m_statsNote->setVisible(attentionScoreNames().contains(scoreName) && !m_statsNote->text().isEmpty());
    // The range filter follows the score shown (kept while the same score is recoloured).
    const bool scored = !scoreName.isEmpty() && m_scores.value(scoreName).size() == n;
    m_rangeRow->setVisible(scored);
    if (!scored) {
        m_rangeScore.clear();
        m_view->setPointFilter({});
        return;
    }
    resetRange(/*keepIfInside=*/m_rangeScore == scoreName);
    m_rangeScore = scoreName;
    applyRangeFilter();
}

void MapPanel::colourChoiceChanged() {
    const QString name = m_colourBy->currentData().toString();
    if (attentionScoreNames().contains(name) && m_scores.value(name).size() != m_dataset->rowCount() &&
        m_dataset->rowCount() > 0 && !m_workspace->statisticsRunner()->busy())
        m_workspace->computeAttentionStatistics();
    refreshColours();
}

void MapPanel::clearAttentionScores() {
    bool had = false;
    for (const QString& name : attentionScoreNames())
        had = m_scores.remove(name) > 0 || had;
    if (had)
        m_statsNote->clear();
    if (attentionScoreNames().contains(m_colourBy->currentData().toString()))
        colourChoiceChanged(); // shown: computed again for the new model or data set
}

QStringList MapPanel::attentionScoreNames() {
    return {tr("class-token attention entropy"), tr("attention rollout concentration"), tr("high-norm tokens")};
}

void MapPanel::resetRange(bool keepIfInside) {
    const auto& score = m_scores.value(m_colourBy->currentData().toString());
    const auto [low, high] = scoreRange(score);
    const double span = std::max(double(high - low), 1e-6);
    const int digits = span >= 50 ? 0 : span >= 0.5 ? 2 : 3;
    const double from = m_rangeFrom->value(), to = m_rangeTo->value();
    for (QDoubleSpinBox* box : {m_rangeFrom, m_rangeTo}) {
        QSignalBlocker block(box);
        box->setDecimals(digits);
        box->setRange(low, high);
        box->setSingleStep(digits == 0 ? 1.0 : span / 50.0);
    }
    QSignalBlocker blockFrom(m_rangeFrom), blockTo(m_rangeTo);
    const bool keep = keepIfInside && from >= low && to <= high && from <= to;
    m_rangeFrom->setValue(keep ? from : low);
    m_rangeTo->setValue(keep ? to : high);
}

void MapPanel::applyRangeFilter() {
    const QString name = m_colourBy->currentData().toString();
    const auto& score = m_scores.value(name);
    const int n = m_dataset->rowCount();
    if (name.isEmpty() || score.size() != n) {
        m_view->setPointFilter({});
        return;
    }
    const auto [low, high] = scoreRange(score);
    const double from = m_rangeFrom->value(), to = m_rangeTo->value();
    // The spin boxes round to their decimals: a bound at the box's end is no bound.
    const double tolerance = 0.5 * std::pow(10.0, -m_rangeFrom->decimals());
    const bool all = from <= m_rangeFrom->minimum() && to >= m_rangeTo->maximum();
    QVector<bool> shown;
    int count = 0;
    if (!all) {
        shown.resize(n);
        for (int r = 0; r < n; ++r) {
            const float v = score[r];
            shown[r] = !std::isnan(v) && (from <= low || v >= from - tolerance) && (to >= high || v <= to + tolerance);
            count += shown[r] ? 1 : 0;
        }
    }
    m_view->setPointFilter(shown);
    m_rangeCount->setText(all ? tr("all %n image(s)", "", n) : tr("%1 of %2 images").arg(count).arg(n));
}

int MapPanel::shownPointCount() const {
    int count = 0;
    for (int i = 0; i < m_view->pointCount(); ++i)
        count += m_view->isHidden(i) ? 0 : 1;
    return count;
}

void MapPanel::setRowScores(const QString& name, const QVector<float>& perRow) {
    m_scores[name] = perRow;
    if (m_colourBy->findData(name) < 0)
        m_colourBy->addItem(tr("Colour: %1").arg(name), name);
    if (m_colourBy->currentData().toString() == name)
        refreshColours();
}

void MapPanel::showScores(const QString& name) {
    const int index = m_colourBy->findData(name);
    if (index >= 0)
        m_colourBy->setCurrentIndex(index);
}

QString MapPanel::currentScoreName() const {
    const QString name = m_colourBy->currentData().toString();
    return m_scores.contains(name) ? name : QString();
}

void MapPanel::showContextMenu(const QPoint& pos) {
    // A right click on a point outside the selection selects it first, as file managers do,
    // so the menu's actions apply to what is under the pointer.
    const int point = m_view->pointAt(pos);
    if (point >= 0 && !m_view->selection().contains(point)) {
        m_view->setSelection({point}, true);
        Q_EMIT rowActivated(point);
    }
    QMenu menu(this);
    for (QAction* a : m_contextActions)
        menu.addAction(a);
    if (!m_contextActions.isEmpty())
        menu.addSeparator();
    QAction* none = menu.addAction(tr("Select &None"), this, [this] { m_view->setSelection({}, true); });
    none->setEnabled(!m_view->selection().isEmpty());
    QAction* fit = menu.addAction(tr("&Fit to Data"), m_view, &ScatterView::fitToData);
    fit->setShortcut(QKeySequence(Qt::Key_F)); // shown only: the view handles F itself
    menu.exec(m_view->mapToGlobal(pos));
}

void MapPanel::showLayout(bool animate) {
    const auto& layout = m_workspace->layout();
    if (layout.isEmpty()) {
        m_view->setPositions({});
        return;
    }
    const bool first = m_view->pointCount() != layout.size();
    m_view->setPositions(layout, animate, first || !animate);
    refreshColours();
    const int frames = int(m_workspace->history().size());
    m_timeline->blockSignals(true);
    m_timeline->setRange(0, std::max(0, frames - 1));
    m_timeline->setValue(frames - 1);
    m_timeline->setEnabled(frames > 1);
    m_timeline->blockSignals(false);
    m_timelineLabel->setText(frames > 1 ? tr("step %1").arg(m_workspace->history().back().first) : QString());
    updateInfo();
}

void MapPanel::updateInfo() {
    const auto& layout = m_workspace->layout();
    if (!m_workspace->analysisNote().isEmpty()) {
        m_info->setText(m_workspace->analysisNote());
        return;
    }
    if (layout.size() != m_workspace->nearestSameClass().size())
        return;
    int same = 0, valid = 0;
    for (int r = 0; r < m_workspace->nearestSameClass().size(); ++r)
        if (!std::isnan(layout[r].x())) {
            ++valid;
            same += m_workspace->nearestSameClass()[r] ? 1 : 0;
        }
    m_info->setText(tr("%1 points · nearest neighbour has the same class for %2% (Precision@1)")
                        .arg(valid)
                        .arg(valid ? 100.0 * same / valid : 0.0, 0, 'f', 1));
}

void MapPanel::showHistory(int index) {
    const auto& h = m_workspace->history();
    if (index < 0 || index >= h.size())
        return;
    m_view->setPositions(h[index].second, true, false);
    m_timelineLabel->setText(tr("step %1").arg(h[index].first));
}

} // namespace vitrine::ui
