#pragma once
// The Neighbours panel: the k nearest neighbours of the selection as a thumbnail grid
// with distance and class; wrong-class neighbours are marked. Dropping an image file on
// the panel asks for its neighbours (embedded on the fly by the owner).

#include <QAbstractListModel>
#include <QWidget>

class QLabel;
class QListView;
class QSpinBox;
class QComboBox;

namespace vitrine::ui {

class ThumbnailCache;

struct NeighbourItem {
    int row = -1;        ///< data set row
    double distance = 0; ///< in the panel's metric
    QString path;
    QString label;
    bool wrongClass = false;
};

class NeighboursModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { RowRole = Qt::UserRole + 1, DistanceRole, WrongRole, LabelRole };
    explicit NeighboursModel(ThumbnailCache* thumbs, QObject* parent = nullptr);
    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    void setItems(QVector<NeighbourItem> items);
    const QVector<NeighbourItem>& items() const { return m_items; }

private:
    ThumbnailCache* m_thumbs;
    QVector<NeighbourItem> m_items;
};

class NeighboursPanel : public QWidget {
    Q_OBJECT
public:
    explicit NeighboursPanel(ThumbnailCache* thumbs, QWidget* parent = nullptr);

    /// Shows results for a query described by `title` (e.g. "Bengal_3.jpg (Bengal)").
    void setResults(const QString& title, const QString& queryPath, int queryRow, QVector<NeighbourItem> items);
    void setMessage(const QString& text);
    int k() const;
    bool cosine() const;
    NeighboursModel* model() const { return m_model; }
    QListView* view() const { return m_view; }

Q_SIGNALS:
    /// Clicking a neighbour: open (query, neighbour) in the Inspector's compare mode.
    void pairActivated(int queryRow, int neighbourRow);
    void imageDropped(const QString& path);
    void parametersChanged();

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    ThumbnailCache* m_thumbs;
    NeighboursModel* m_model;
    QListView* m_view;
    QString m_queryPath;
    QLabel* m_title;
    QLabel* m_query;
    QSpinBox* m_k;
    QComboBox* m_metric;
    int m_queryRow = -1;
};

} // namespace vitrine::ui
