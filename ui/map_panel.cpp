#include "ui/map_panel.h"

#include <algorithm>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSettings>
#include <QSplitter>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

#include "ui/dataset_model.h"
#include "ui/scatter_view.h"
#include "ui/thumbnail_cache.h"
#include "ui/workspace.h"

namespace vitrine::ui {

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
    m_colourBy->setToolTip(tr("Colour points by their class at the chosen level, or by whether their nearest "
                              "neighbour in embedding space has the same class (green) or not (red)."));
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
    connect(m_colourBy, qOverload<int>(&QComboBox::currentIndexChanged), this, &MapPanel::refreshColours);
    connect(m_dataset, &DatasetModel::classesChanged, this, [this] {
        m_workspace->refreshNearestSameClass();
        refreshColours();
        updateInfo();
    });
    connect(m_workspace, &Workspace::layoutChanged, this, &MapPanel::showLayout);
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
    QStringList names;
    QVector<QColor> palette;
    const QString scoreName = m_colourBy->currentData().toString();
    if (!scoreName.isEmpty() && m_scores.value(scoreName).size() == n) {
        // Five bands of the score, low (dark blue) to high (yellow), as in viridis, of equal
        // width over the range the scores actually take: a score that only reaches 0.4 (a
        // neighbourhood change, say) still uses every colour. The combo box names the score,
        // so the legend shows only each band's range (it is 170 px wide).
        const auto& score = m_scores[scoreName];
        const auto [lo, hi] = std::minmax_element(score.begin(), score.end());
        const float low = *lo, high = std::max(*hi, low + 1e-6f);
        palette = {QColor(68, 1, 84), QColor(59, 82, 139), QColor(33, 145, 140), QColor(94, 201, 98), QColor(253, 231, 37)};
        const float step = (high - low) / 5.0f;
        const int digits = step >= 1.0f ? 0 : step >= 0.01f ? 2 : 3;
        for (int b = 0; b < 5; ++b)
            names << tr("%1–%2").arg(low + b * step, 0, 'f', digits).arg(low + (b + 1) * step, 0, 'f', digits);
        for (int r = 0; r < n; ++r)
            cats[r] = std::clamp(int((score[r] - low) / step), 0, 4);
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
    m_view->setImagePaths(paths, m_thumbs);
    m_view->setLabels(labels);
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
