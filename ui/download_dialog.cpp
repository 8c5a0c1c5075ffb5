#include "ui/download_dialog.h"

#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QVBoxLayout>

#include "core/model/model_catalogue.h"
#include "ui/job_runner.h"

namespace vitrine::ui {

namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
} // namespace

DownloadDialog::DownloadDialog(QWidget* parent)
    : QDialog(parent), m_list(new QListWidget), m_details(new QLabel), m_status(new QLabel), m_progress(new QProgressBar),
      m_download(new QPushButton(tr("Download"))), m_cancel(new QPushButton(tr("Cancel Download"))),
      m_net(new QNetworkAccessManager(this)) {
    setWindowTitle(tr("Download a Model"));
    m_details->setWordWrap(true);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->setWordWrap(true);
    m_progress->setVisible(false);
    m_cancel->setVisible(false);
    m_download->setToolTip(tr("Download the selected model from its publisher; it opens when done"));
    m_cancel->setToolTip(tr("Stop the download; nothing is kept"));
    m_list->setAccessibleName(tr("Models to download"));
    auto* close = new QPushButton(tr("Close"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_download);
    buttons->addWidget(m_cancel);
    buttons->addStretch(1);
    buttons->addWidget(close);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Checkpoints from their publishers, read without running Python. They are saved in %1.")
                                     .arg(QDir::toNativeSeparators(q(core::model::downloadedModelsDir().string())))));
    layout->addWidget(m_list, 1);
    layout->addWidget(m_details);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addLayout(buttons);
    resize(640, 480);
    refreshList();

    connect(m_list, &QListWidget::currentRowChanged, this, [this](int row) {
        const auto& all = core::model::modelCatalogue();
        if (row < 0 || row >= int(all.size()))
            return;
        const auto& e = all[std::size_t(row)];
        m_details->setText(tr("<b>%1</b><br>%2<br>About %3 MB · licence %4<br><small>%5</small>")
                               .arg(q(e.title).toHtmlEscaped(), q(e.note).toHtmlEscaped())
                               .arg(e.approxMegabytes)
                               .arg(q(e.licence).toHtmlEscaped(), q(e.url).toHtmlEscaped()));
    });
    connect(m_list, &QListWidget::itemDoubleClicked, this, [this] { m_download->click(); });
    connect(m_download, &QPushButton::clicked, this, [this] {
        if (auto* item = m_list->currentItem())
            start(item->data(Qt::UserRole).toString());
    });
    connect(m_cancel, &QPushButton::clicked, this, &DownloadDialog::cancel);
    connect(close, &QPushButton::clicked, this, &QDialog::reject);
    m_list->setCurrentRow(0);
}

DownloadDialog::~DownloadDialog() { cancel(); }

void DownloadDialog::refreshList() {
    const int row = m_list->currentRow();
    m_list->clear();
    for (const auto& e : core::model::modelCatalogue()) {
        const bool have = !core::model::downloadedModelPath(e.name).empty();
        auto* item = new QListWidgetItem(tr("%1 — %2 (%3 MB)%4")
                                             .arg(q(e.name), q(e.title))
                                             .arg(e.approxMegabytes)
                                             .arg(have ? tr(" · downloaded") : QString()));
        item->setData(Qt::UserRole, q(e.name));
        item->setToolTip(q(e.note));
        m_list->addItem(item);
    }
    m_list->setCurrentRow(std::max(0, row));
}

QString DownloadDialog::statusText() const { return m_status->text(); }

void DownloadDialog::start(const QString& name) {
    if (m_reply)
        return;
    const auto entry = core::model::catalogueEntry(name.toStdString());
    if (!entry) {
        m_status->setText(tr("Unknown model '%1'.").arg(name));
        return;
    }
    const QString dir = q(core::model::downloadedModelsDir().string());
    if (!QDir().mkpath(dir)) {
        m_status->setText(tr("Cannot create %1.").arg(dir));
        Q_EMIT failed(m_status->text());
        return;
    }
    m_file = new QSaveFile(QDir(dir).filePath(q(entry->file)), this);
    if (!m_file->open(QIODevice::WriteOnly)) {
        m_status->setText(tr("Cannot write in %1: %2").arg(dir, m_file->errorString()));
        delete m_file;
        m_file = nullptr;
        Q_EMIT failed(m_status->text());
        return;
    }
    m_name = name;
    m_hash.reset();
    m_clock.start();
    QNetworkRequest request(QUrl(q(core::model::mirroredUrl(entry->url))));
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
    m_reply = m_net->get(request);
    m_progress->setVisible(true);
    m_progress->setRange(0, 0);
    m_cancel->setVisible(true);
    m_download->setEnabled(false);
    m_status->setText(tr("Downloading %1…").arg(q(entry->title)));
    connect(m_reply, &QNetworkReply::readyRead, this, [this] {
        const QByteArray chunk = m_reply->readAll();
        m_hash.addData(chunk);
        if (m_file->write(chunk) != chunk.size())
            m_reply->abort(); // disk full: finish() reports the file's error
    });
    connect(m_reply, &QNetworkReply::downloadProgress, this, [this](qint64 done, qint64 total) {
        if (total <= 0)
            return;
        m_progress->setRange(0, 1000);
        m_progress->setValue(int(1000 * done / total));
        const double seconds = m_clock.elapsed() / 1000.0;
        const double eta = done > 0 ? seconds * double(total - done) / double(done) : 0.0;
        m_progress->setFormat(tr("%1 of %2 MB · %3 left")
                                  .arg(done / 1e6, 0, 'f', 1)
                                  .arg(total / 1e6, 0, 'f', 1)
                                  .arg(formatEta(eta)));
    });
    connect(m_reply, &QNetworkReply::finished, this, &DownloadDialog::finish);
}

void DownloadDialog::cancel() {
    if (m_reply)
        m_reply->abort();
}

void DownloadDialog::finish() {
    QNetworkReply* reply = m_reply;
    m_reply = nullptr;
    reply->deleteLater();
    m_progress->setVisible(false);
    m_cancel->setVisible(false);
    m_download->setEnabled(true);
    const auto entry = core::model::catalogueEntry(m_name.toStdString());
    QString problem;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (reply->error() == QNetworkReply::OperationCanceledError && m_file->error() == QFileDevice::NoError)
        problem = tr("Cancelled; nothing was kept.");
    else if (m_file->error() != QFileDevice::NoError)
        problem = tr("Could not write the file: %1").arg(m_file->errorString());
    else if (status >= 300)
        problem = tr("Download failed: the server answered %1 (%2)")
                      .arg(status)
                      .arg(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString());
    else if (reply->error() != QNetworkReply::NoError)
        problem = tr("Download failed: %1").arg(reply->errorString());
    const QString hex = QString::fromLatin1(m_hash.result().toHex());
    if (problem.isEmpty() && entry && !entry->sha256Prefix.empty() && !hex.startsWith(q(entry->sha256Prefix)))
        problem = tr("The file's SHA-256 (%1…) is not the one its publisher gives (%2…); it was not kept.")
                      .arg(hex.left(12), q(entry->sha256Prefix));
    if (!problem.isEmpty()) {
        m_file->cancelWriting();
        m_file->commit(); // with writing cancelled: removes the temporary, keeps nothing
        delete m_file;
        m_file = nullptr;
        m_status->setText(problem);
        Q_EMIT failed(problem);
        return;
    }
    const QString path = m_file->fileName();
    const bool ok = m_file->commit();
    delete m_file;
    m_file = nullptr;
    if (!ok) {
        m_status->setText(tr("Could not save %1.").arg(path));
        Q_EMIT failed(m_status->text());
        return;
    }
    m_status->setText(tr("Downloaded %1 (SHA-256 %2). It is open now; `--model %3` uses it on the command line.")
                          .arg(QDir::toNativeSeparators(path), hex, m_name));
    refreshList();
    Q_EMIT downloaded(m_name, path);
}

} // namespace vitrine::ui
