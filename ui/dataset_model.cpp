#include "ui/dataset_model.h"

#include <QFileInfo>
#include <QIcon>
#include <QPixmap>

#include <algorithm>
#include <set>

#include "ui/thumbnail_cache.h"

namespace vitrine::ui {

DatasetModel::DatasetModel(ThumbnailCache* thumbnails, QObject* parent)
    : QAbstractListModel(parent), m_thumbnails(thumbnails) {
    connect(m_thumbnails, &ThumbnailCache::ready, this, &DatasetModel::onThumbnailReady);
    connect(m_thumbnails, &ThumbnailCache::failed, this,
            [this](const QString& path, const QString&) { onThumbnailReady(path); });
}

int DatasetModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_dataset.samples.size());
}

QVariant DatasetModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const auto& s = m_dataset.samples[static_cast<std::size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole: return QString::fromStdString(s.path.filename().string());
    case Qt::ToolTipRole:
        return QStringLiteral("<b>%1</b><br>%2<br><small>%3</small>")
            .arg(QString::fromStdString(core::data::Dataset::labelAt(s, m_level)).toHtmlEscaped(),
                 QString::fromStdString(s.path.filename().string()).toHtmlEscaped(),
                 QString::fromStdString(s.path.parent_path().string()).toHtmlEscaped());
    case Qt::DecorationRole: {
        QImage img = m_thumbnails->get(QString::fromStdString(s.path.string()));
        if (img.isNull()) {
            // A same-sized placeholder while it loads: views with uniform item sizes measure
            // the first item, and a missing icon would make every cell one text line high.
            static QPixmap placeholder = [size = m_thumbnails->size()] {
                QPixmap p(size, size);
                p.fill(QColor(225, 225, 225));
                return p;
            }();
            return placeholder;
        }
        return QPixmap::fromImage(img);
    }
    case PathRole: return QString::fromStdString(s.path.string());
    case RelativePathRole: return QString::fromStdString(s.relativePath);
    case ClassRole: return QString::fromStdString(core::data::Dataset::labelAt(s, m_level));
    case ClassIdRole: return m_classIds[static_cast<std::size_t>(index.row())];
    default: return {};
    }
}

DatasetIndex DatasetIndex::build(const core::data::Dataset& dataset, int level, bool withPaths) {
    DatasetIndex index;
    index.level = level;
    const auto names = dataset.classNames(level);
    index.classIds = dataset.classIds(level);
    for (const auto& n : names)
        index.classNames << QString::fromStdString(n);
    index.classCounts = QVector<int>(static_cast<int>(names.size()), 0);
    for (int id : index.classIds)
        ++index.classCounts[id];
    if (withPaths) {
        index.rowOfPath.reserve(static_cast<qsizetype>(dataset.samples.size()));
        for (std::size_t i = 0; i < dataset.samples.size(); ++i)
            index.rowOfPath.insert(QString::fromStdString(dataset.samples[i].path.string()), static_cast<int>(i));
    }
    return index;
}

void DatasetModel::setDataset(core::data::Dataset dataset) {
    DatasetIndex index = DatasetIndex::build(dataset, m_level);
    setDataset(std::move(dataset), std::move(index));
}

void DatasetModel::setDataset(core::data::Dataset dataset, DatasetIndex index) {
    beginResetModel();
    m_dataset = std::move(dataset);
    if (index.level != m_level || index.classIds.size() != m_dataset.samples.size() ||
        index.rowOfPath.size() != static_cast<qsizetype>(m_dataset.samples.size()))
        index = DatasetIndex::build(m_dataset, m_level);
    m_rowOfPath = std::move(index.rowOfPath);
    m_classNames = std::move(index.classNames);
    m_classCounts = std::move(index.classCounts);
    m_classIds = std::move(index.classIds);
    endResetModel();
    Q_EMIT classesChanged();
}

int DatasetModel::addSamples(const std::vector<core::data::Sample>& samples) {
    core::data::Dataset extra;
    extra.samples = samples;
    core::data::Dataset merged = m_dataset;
    merged.skipped.clear();
    std::size_t added = merged.merge(extra);
    merged.skipped = m_dataset.skipped;
    if (added > 0)
        setDataset(std::move(merged));
    return static_cast<int>(added);
}

void DatasetModel::removeSamples(const std::vector<std::string>& paths) {
    std::set<std::string> drop(paths.begin(), paths.end());
    core::data::Dataset kept = m_dataset;
    std::erase_if(kept.samples, [&](const core::data::Sample& s) { return drop.count(s.path.string()) > 0; });
    setDataset(std::move(kept));
}

void DatasetModel::setLabelLevel(int level) {
    if (level == m_level)
        return;
    m_level = level;
    recomputeClasses();
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0), index(rowCount() - 1), {ClassRole, ClassIdRole, Qt::ToolTipRole});
    Q_EMIT classesChanged();
}

QStringList DatasetModel::levelDescriptions() const {
    QStringList out;
    for (int level = 0; level <= m_dataset.maxLevel(); ++level) {
        auto names = m_dataset.classNames(level);
        QStringList shown;
        for (std::size_t i = 0; i < names.size() && i < 3; ++i)
            shown << QString::fromStdString(names[i]);
        QString text = QStringLiteral("%1 classes: %2").arg(names.size()).arg(shown.join(QStringLiteral(", ")));
        if (names.size() > 3)
            text += QStringLiteral(", …");
        out << text;
    }
    return out;
}

void DatasetModel::recomputeClasses() {
    DatasetIndex index = DatasetIndex::build(m_dataset, m_level, /*withPaths=*/false);
    m_classNames = std::move(index.classNames);
    m_classCounts = std::move(index.classCounts);
    m_classIds = std::move(index.classIds);
}

void DatasetModel::onThumbnailReady(const QString& path) {
    auto it = m_rowOfPath.constFind(path);
    if (it == m_rowOfPath.constEnd())
        return;
    QModelIndex idx = index(*it);
    Q_EMIT dataChanged(idx, idx, {Qt::DecorationRole});
}

} // namespace vitrine::ui
