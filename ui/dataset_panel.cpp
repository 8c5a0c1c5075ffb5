#include "ui/dataset_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QSplitter>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include "ui/dataset_model.h"

namespace vitrine::ui {

void SampleFilterProxy::setHiddenClasses(const QSet<QString>& hidden) {
    m_hidden = hidden;
    invalidateFilter();
}

void SampleFilterProxy::setSearch(const QString& text) {
    m_search = text.trimmed();
    invalidateFilter();
}

bool SampleFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    QModelIndex idx = sourceModel()->index(sourceRow, 0, sourceParent);
    if (!m_hidden.isEmpty() && m_hidden.contains(idx.data(DatasetModel::ClassRole).toString()))
        return false;
    if (!m_search.isEmpty() &&
        !idx.data(DatasetModel::RelativePathRole).toString().contains(m_search, Qt::CaseInsensitive))
        return false;
    return true;
}

DatasetPanel::DatasetPanel(DatasetModel* model, QWidget* parent)
    : QWidget(parent), m_model(model), m_proxy(new SampleFilterProxy(this)), m_level(new QComboBox),
      m_search(new QLineEdit), m_classList(new QListView), m_classes(new QStandardItemModel(this)),
      m_grid(new QListView), m_summary(new QLabel) {
    m_proxy->setSourceModel(model);

    m_level->setToolTip(tr("Which folder level is the class: for cat/Abyssinian/… the top level is the "
                           "species, the next the breed. Training, the map and the metrics use this level."));
    m_search->setPlaceholderText(tr("Filter by file name…"));
    m_search->setClearButtonEnabled(true);
    m_search->setToolTip(tr("Show only images whose path contains this text"));

    m_classList->setModel(m_classes);
    m_classList->setToolTip(tr("Classes at the chosen level with their image counts; untick to hide a class"));
    m_classList->setEditTriggers(QAbstractItemView::NoEditTriggers);

    m_grid->setModel(m_proxy);
    m_grid->setViewMode(QListView::IconMode);
    m_grid->setIconSize(QSize(96, 96));
    m_grid->setGridSize(QSize(108, 122));
    m_grid->setSpacing(2);
    m_grid->setUniformItemSizes(true);
    m_grid->setResizeMode(QListView::Adjust);
    m_grid->setMovement(QListView::Static);
    m_grid->setLayoutMode(QListView::Batched);
    m_grid->setBatchSize(200);
    m_grid->setWordWrap(false);
    m_grid->setTextElideMode(Qt::ElideMiddle);
    m_grid->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_grid->setObjectName(QStringLiteral("thumbnailGrid"));

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Class level:")));
    top->addWidget(m_level, 1);
    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_classList);
    splitter->addWidget(m_grid);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 3);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(m_search);
    layout->addWidget(splitter, 1);
    layout->addWidget(m_summary);

    m_search->setAccessibleName(tr("Filter by file name"));
    connect(m_search, &QLineEdit::textChanged, m_proxy, &SampleFilterProxy::setSearch);
    connect(m_level, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int i) {
        if (!m_rebuilding && i >= 0)
            m_model->setLabelLevel(i);
    });
    connect(m_model, &DatasetModel::classesChanged, this, [this] {
        rebuildLevels();
        rebuildClassList();
    });
    connect(m_model, &QAbstractItemModel::modelReset, this, &DatasetPanel::rebuildLevels);
    connect(m_classes, &QStandardItemModel::itemChanged, this, &DatasetPanel::applyClassFilter);
    connect(m_grid->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& current) {
        if (current.isValid())
            Q_EMIT currentRowChanged(m_proxy->mapToSource(current).row());
    });
    rebuildLevels();
    rebuildClassList();
}

void DatasetPanel::rebuildLevels() {
    m_rebuilding = true;
    QStringList desc = m_model->levelDescriptions();
    m_level->clear();
    for (int i = 0; i < desc.size(); ++i)
        m_level->addItem(tr("Level %1 — %2").arg(i + 1).arg(desc[i]));
    int level = m_model->labelLevel();
    m_level->setCurrentIndex(level < 0 ? desc.size() - 1 : std::min(level, int(desc.size()) - 1));
    m_level->setEnabled(desc.size() > 1);
    m_rebuilding = false;
}

void DatasetPanel::rebuildClassList() {
    m_rebuilding = true;
    m_classes->clear();
    const auto& names = m_model->classNames();
    const auto& counts = m_model->classCounts();
    for (int i = 0; i < names.size(); ++i) {
        auto* item = new QStandardItem(QStringLiteral("%1  (%2)").arg(names[i]).arg(counts[i]));
        item->setData(names[i], Qt::UserRole);
        item->setCheckable(true);
        item->setCheckState(Qt::Checked);
        m_classes->appendRow(item);
    }
    m_rebuilding = false;
    m_proxy->setHiddenClasses({});
    m_summary->setText(tr("%Ln image(s)", "", m_model->rowCount()) + QStringLiteral(" · ") +
                       tr("%Ln class(es)", "", int(names.size())));
}

void DatasetPanel::applyClassFilter() {
    if (m_rebuilding)
        return;
    QSet<QString> hidden;
    for (int i = 0; i < m_classes->rowCount(); ++i) {
        auto* item = m_classes->item(i);
        if (item->checkState() != Qt::Checked)
            hidden.insert(item->data(Qt::UserRole).toString());
    }
    m_proxy->setHiddenClasses(hidden);
}

void DatasetPanel::selectRow(int sourceRow) {
    QModelIndex idx = m_proxy->mapFromSource(m_model->index(sourceRow));
    if (!idx.isValid())
        return;
    m_grid->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect);
    m_grid->scrollTo(idx);
}

int DatasetPanel::currentRow() const {
    QModelIndex idx = m_grid->currentIndex();
    return idx.isValid() ? m_proxy->mapToSource(idx).row() : -1;
}

} // namespace vitrine::ui
