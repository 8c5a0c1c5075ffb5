#include "ui/welcome_page.h"

#include <QFrame>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace vitrine::ui {

WelcomePage::WelcomePage(QWidget* parent)
    : QWidget(parent), m_status(new QLabel), m_open(new QPushButton), m_demo(new QPushButton),
      m_model(new QPushButton) {
    setObjectName(QStringLiteral("welcomePage"));
    auto* title = new QLabel(tr("<h2>Vitrine</h2>"));
    auto* blurb = new QLabel(tr("See how a Vision Transformer cuts your photos into patches and where it looks, map "
                                "its embeddings, find each image's nearest neighbours, and train the embedding with "
                                "triplet loss while the map, the neighbours and the attention change live."));
    blurb->setWordWrap(true);
    auto* drop = new QLabel(tr("<b>Drop a folder of images here</b> — one sub-folder per class (cat/, dog/, …); "
                               "nested folders give more label levels."));
    drop->setWordWrap(true);
    drop->setFrameShape(QFrame::StyledPanel);
    drop->setAlignment(Qt::AlignCenter);
    drop->setMinimumHeight(72);
    drop->setMargin(12);

    m_open->setText(tr("Open a Folder…"));
    m_open->setIcon(QIcon(QStringLiteral(":/vitrine/icons/open-folder.svg")));
    m_open->setToolTip(tr("Choose a folder with one sub-folder per class (Ctrl+O)"));
    m_demo->setText(tr("Open the Demo Photos"));
    m_demo->setIcon(QIcon(QStringLiteral(":/vitrine/icons/demo-photos.svg")));
    m_demo->setToolTip(tr("296 photos of 37 cat and dog breeds from the Oxford-IIIT Pet data set"));
    m_model->setText(tr("Choose a Model…"));
    m_model->setIcon(QIcon(QStringLiteral(":/vitrine/icons/model.svg")));
    m_model->setToolTip(tr("The default is ViT-Ti/16 fine-tuned on pet breeds; open any ViT checkpoint "
                           "(.safetensors) instead (Ctrl+M)"));
    for (QPushButton* b : {m_open, m_demo, m_model}) {
        b->setIconSize(QSize(24, 24));
        b->setMinimumHeight(40);
    }
    m_status->setWordWrap(true);
    m_status->setAlignment(Qt::AlignCenter);

    auto* column = new QVBoxLayout;
    column->addWidget(title);
    column->addWidget(blurb);
    column->addSpacing(12);
    column->addWidget(drop);
    column->addSpacing(8);
    column->addWidget(m_open);
    column->addWidget(m_demo);
    column->addWidget(m_model);
    column->addSpacing(8);
    column->addWidget(m_status);
    auto* box = new QWidget;
    box->setLayout(column);
    // A fixed width: word-wrapped labels in a centred box otherwise get the height of a
    // narrower layout and cut their last lines.
    box->setFixedWidth(520);
    // Centred by stretches, not by an alignment flag: an aligned widget gets its size hint's
    // height, which ignores how tall the wrapped text is at the box's width.
    auto* row = new QHBoxLayout;
    row->addStretch(1);
    row->addWidget(box);
    row->addStretch(1);
    auto* outer = new QVBoxLayout(this);
    outer->addStretch(1);
    outer->addLayout(row);
    outer->addStretch(2);

    connect(m_open, &QPushButton::clicked, this, &WelcomePage::openFolderRequested);
    connect(m_demo, &QPushButton::clicked, this, &WelcomePage::openDemoRequested);
    connect(m_model, &QPushButton::clicked, this, &WelcomePage::chooseModelRequested);
}

void WelcomePage::setOpening(const QString& folder) {
    m_status->setText(folder.isEmpty() ? QString() : tr("Opening %1…").arg(folder.toHtmlEscaped()));
}

void WelcomePage::setMessage(const QString& text) { m_status->setText(text); }

void WelcomePage::setDemoAvailable(bool available) {
    m_demo->setEnabled(available);
    if (!available)
        m_demo->setToolTip(tr("The bundled demo photos were not found next to the program"));
}

} // namespace vitrine::ui
