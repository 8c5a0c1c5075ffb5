#pragma once
// Item model over the loaded data set: one row per image. Thumbnails come from a
// ThumbnailCache and appear as they load. The label level (e.g. species or breed)
// decides which label is the class.

#include <QAbstractListModel>
#include <QHash>
#include <QStringList>
#include <QVector>

#include <vector>

#include "core/data/dataset.h"

namespace vitrine::ui {

class ThumbnailCache;

/// What DatasetModel derives from a data set: each path's row and the classes at a label
/// level. build() may run on a worker, so that a data set of 10^6 rows (an embeddings file)
/// does not hold the GUI thread while it is installed.
struct DatasetIndex {
    int level = -1;
    QStringList classNames;        ///< sorted
    QVector<int> classCounts;      ///< aligned with classNames
    std::vector<int> classIds;     ///< per sample, into classNames
    QHash<QString, int> rowOfPath; ///< absolute path -> row (empty when built without paths)
    static DatasetIndex build(const core::data::Dataset& dataset, int level, bool withPaths = true);
};

class DatasetModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        PathRole = Qt::UserRole + 1, ///< absolute path (QString)
        RelativePathRole,
        ClassRole,   ///< label at the current level
        ClassIdRole, ///< index into classNames()
    };

    explicit DatasetModel(ThumbnailCache* thumbnails, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;

    /// Replaces the whole data set.
    void setDataset(core::data::Dataset dataset);
    /// The same with its index built elsewhere (DatasetIndex::build on a worker, at
    /// labelLevel(); an index for another level or row count is built again here).
    void setDataset(core::data::Dataset dataset, DatasetIndex index);
    /// Appends samples (already labelled); returns rows added. Duplicates are skipped.
    int addSamples(const std::vector<core::data::Sample>& samples);
    /// Removes samples by absolute path (undo of addSamples).
    void removeSamples(const std::vector<std::string>& paths);

    const core::data::Dataset& dataset() const { return m_dataset; }
    void setLabelLevel(int level);
    int labelLevel() const { return m_level; }
    /// Class names at the current level, sorted.
    const QStringList& classNames() const { return m_classNames; }
    /// Images per class at the current level, aligned with classNames().
    const QVector<int>& classCounts() const { return m_classCounts; }
    /// Example labels per level, e.g. {"cat, dog", "Abyssinian, Bengal, …"}.
    QStringList levelDescriptions() const;

Q_SIGNALS:
    void classesChanged();

private:
    void recomputeClasses();
    void onThumbnailReady(const QString& path);

    ThumbnailCache* m_thumbnails;
    core::data::Dataset m_dataset;
    int m_level = -1;
    QStringList m_classNames;
    QVector<int> m_classCounts;
    std::vector<int> m_classIds;
    QHash<QString, int> m_rowOfPath;
};

} // namespace vitrine::ui
