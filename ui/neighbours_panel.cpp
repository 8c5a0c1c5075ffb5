#include "ui/neighbours_panel.h"

#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QListView>
#include <QMimeData>
#include <QPainter>
#include <QSpinBox>
#include <QStyledItemDelegate>
#include <QVBoxLayout>

#include "ui/thumbnail_cache.h"

namespace vitrine::ui {
namespace {

/// Thumbnail with the class, the distance and a red corner mark for wrong-class neighbours.
class NeighbourDelegate : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    QSize sizeHint(const QStyleOptionViewItem&, const QModelIndex&) const override { return {104, 132}; }
    void paint(QPainter* p, const QStyleOptionViewItem& opt, const QModelIndex& idx) const override {
        p->save();
        QRect r = opt.rect.adjusted(2, 2, -2, -2);
        if (opt.state & QStyle::State_Selected)
            p->fillRect(r, opt.palette.highlight());
        QRect img(r.left() + (r.width() - 96) / 2, r.top(), 96, 96);
        QPixmap pm = idx.data(Qt::DecorationRole).value<QPixmap>();
        if (!pm.isNull())
            p->drawPixmap(img, pm);
        else
            p->fillRect(img, opt.palette.color(QPalette::Midlight));
        const bool wrong = idx.data(NeighboursModel::WrongRole).toBool();
        if (wrong) {
            p->setPen(QPen(QColor(210, 30, 30), 3));
            p->drawRect(img.adjusted(1, 1, -1, -1));
            p->setBrush(QColor(210, 30, 30));
            p->drawPolygon(QPolygon({img.topRight(), img.topRight() + QPoint(-18, 0), img.topRight() + QPoint(0, 18)}));
        }
        p->setPen(opt.palette.color(QPalette::Text));
        QFont f = opt.font;
        f.setPointSizeF(f.pointSizeF() * 0.85);
        p->setFont(f);
        QFontMetrics fm(f);
        QString label = fm.elidedText(idx.data(NeighboursModel::LabelRole).toString(), Qt::ElideRight, r.width());
        p->drawText(QRect(r.left(), img.bottom() + 2, r.width(), fm.height()), Qt::AlignHCenter, label);
        p->setPen(wrong ? QColor(190, 30, 30) : opt.palette.color(QPalette::PlaceholderText));
        p->drawText(QRect(r.left(), img.bottom() + 2 + fm.height(), r.width(), fm.height()), Qt::AlignHCenter,
                    QStringLiteral("#%1 · d %2")
                        .arg(idx.row() + 1)
                        .arg(idx.data(NeighboursModel::DistanceRole).toDouble(), 0, 'f', 3));
        p->restore();
    }
};

} // namespace

NeighboursModel::NeighboursModel(ThumbnailCache* thumbs, QObject* parent)
    : QAbstractListModel(parent), m_thumbs(thumbs) {
    connect(thumbs, &ThumbnailCache::ready, this, [this](const QString& path) {
        for (int i = 0; i < m_items.size(); ++i)
            if (m_items[i].path == path)
                Q_EMIT dataChanged(index(i), index(i), {Qt::DecorationRole});
    });
}

int NeighboursModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_items.size()); }

QVariant NeighboursModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_items.size())
        return {};
    const auto& it = m_items[index.row()];
    switch (role) {
    case Qt::DecorationRole: {
        QImage img = m_thumbs->get(it.path);
        return img.isNull() ? QVariant() : QVariant(QPixmap::fromImage(img));
    }
    case Qt::ToolTipRole:
        return QStringLiteral("%1<br><b>%2</b> · distance %3%4")
            .arg(it.path.toHtmlEscaped(), it.label.toHtmlEscaped())
            .arg(it.distance, 0, 'f', 4)
            .arg(it.wrongClass ? QStringLiteral("<br><span style='color:#c00'>different class from the query</span>")
                               : QString());
    case RowRole: return it.row;
    case DistanceRole: return it.distance;
    case WrongRole: return it.wrongClass;
    case LabelRole:
    case Qt::DisplayRole: return it.label;
    default: return {};
    }
}

void NeighboursModel::setItems(QVector<NeighbourItem> items) {
    beginResetModel();
    m_items = std::move(items);
    endResetModel();
}

NeighboursPanel::NeighboursPanel(ThumbnailCache* thumbs, QWidget* parent)
    : QWidget(parent), m_thumbs(thumbs), m_model(new NeighboursModel(thumbs, this)), m_view(new QListView),
      m_title(new QLabel), m_query(new QLabel), m_k(new QSpinBox), m_metric(new QComboBox) {
    setAcceptDrops(true);
    m_view->setModel(m_model);
    m_view->setViewMode(QListView::IconMode);
    m_view->setResizeMode(QListView::Adjust);
    m_view->setMovement(QListView::Static);
    m_view->setUniformItemSizes(true);
    m_view->setItemDelegate(new NeighbourDelegate(m_view));
    m_view->setToolTip(tr("Nearest neighbours of the selected image. Red: a different class. "
                          "Click one to compare it with the query in the Inspector."));
    m_k->setRange(1, 200);
    m_k->setValue(12);
    m_k->setPrefix(tr("k = "));
    m_k->setToolTip(tr("How many neighbours to show"));
    m_k->setAccessibleName(tr("Number of neighbours"));
    m_metric->setAccessibleName(tr("Distance"));
    m_metric->addItems({tr("Cosine"), tr("Euclidean")});
    m_metric->setToolTip(tr("Distance between embeddings: cosine (1 − cos θ) or Euclidean"));
    m_query->setFixedSize(56, 56);
    m_query->setScaledContents(true);
    m_title->setWordWrap(true);
    m_title->setText(tr("Select an image, or drop one here, to see its nearest neighbours."));

    // k and the metric stack beside the title, so the header fits a narrow dock.
    auto* parameters = new QVBoxLayout;
    parameters->addWidget(m_k);
    parameters->addWidget(m_metric);
    auto* top = new QHBoxLayout;
    top->addWidget(m_query);
    top->addWidget(m_title, 1);
    top->addLayout(parameters);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(m_view, 1);

    connect(m_view, &QListView::clicked, this, [this](const QModelIndex& idx) {
        Q_EMIT pairActivated(m_queryRow, idx.data(NeighboursModel::RowRole).toInt());
    });
    connect(thumbs, &ThumbnailCache::ready, this, [this](const QString& path) {
        if (path == m_queryPath)
            m_query->setPixmap(QPixmap::fromImage(m_thumbs->get(path)));
    });
    connect(m_k, qOverload<int>(&QSpinBox::valueChanged), this, &NeighboursPanel::parametersChanged);
    connect(m_metric, qOverload<int>(&QComboBox::currentIndexChanged), this, &NeighboursPanel::parametersChanged);
}

void NeighboursPanel::setResults(const QString& title, const QString& queryPath, int queryRow,
                                 QVector<NeighbourItem> items) {
    m_queryRow = queryRow;
    int wrong = 0;
    for (const auto& it : items)
        wrong += it.wrongClass ? 1 : 0;
    m_title->setText(tr("<b>%1</b><br>%2 of %3 neighbours from another class")
                         .arg(title.toHtmlEscaped())
                         .arg(wrong)
                         .arg(items.size()));
    m_queryPath = queryPath;
    QImage q = m_thumbs->get(queryPath); // may arrive later through ThumbnailCache::ready
    m_query->setPixmap(q.isNull() ? QPixmap() : QPixmap::fromImage(q));
    m_model->setItems(std::move(items));
}

void NeighboursPanel::setMessage(const QString& text) {
    m_title->setText(text);
    m_model->setItems({});
}

int NeighboursPanel::k() const { return m_k->value(); }
bool NeighboursPanel::cosine() const { return m_metric->currentIndex() == 0; }

void NeighboursPanel::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() && e->mimeData()->urls().size() == 1 && e->mimeData()->urls().front().isLocalFile())
        e->acceptProposedAction();
}

void NeighboursPanel::dropEvent(QDropEvent* e) {
    e->acceptProposedAction();
    Q_EMIT imageDropped(e->mimeData()->urls().front().toLocalFile());
}

} // namespace vitrine::ui
