#pragma once
// The Data set panel: label level, class list with counts (check to filter),
// a search box and the lazily loaded thumbnail grid.

#include <QSortFilterProxyModel>
#include <QWidget>

class QComboBox;
class QLineEdit;
class QListView;
class QStandardItemModel;
class QLabel;

namespace vitrine::ui {

class DatasetModel;

/// Filters the grid by checked classes and a file-name search.
class SampleFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setHiddenClasses(const QSet<QString>& hidden);
    void setSearch(const QString& text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QSet<QString> m_hidden;
    QString m_search;
};

class DatasetPanel : public QWidget {
    Q_OBJECT
public:
    explicit DatasetPanel(DatasetModel* model, QWidget* parent = nullptr);

    QListView* grid() const { return m_grid; }
    QListView* classList() const { return m_classList; }
    QComboBox* levelBox() const { return m_level; }
    SampleFilterProxy* proxy() const { return m_proxy; }
    /// Selects a data set row (source model row) and scrolls to it.
    void selectRow(int sourceRow);
    int currentRow() const;

Q_SIGNALS:
    void currentRowChanged(int sourceRow);

private:
    void rebuildClassList();
    void rebuildLevels();
    void applyClassFilter();

    DatasetModel* m_model;
    SampleFilterProxy* m_proxy;
    QComboBox* m_level;
    QLineEdit* m_search;
    QListView* m_classList;
    QStandardItemModel* m_classes;
    QListView* m_grid;
    QLabel* m_summary;
    bool m_rebuilding = false;
};

} // namespace vitrine::ui
