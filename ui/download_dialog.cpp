#include "ui/download_dialog.h"

#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "core/model/model_catalogue.h"
#include "core/model/model_download.h"
#include "ui/job_runner.h"

namespace vitrine::ui {

namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
QString megabytes(qint64 bytes) { return QString::number(bytes / 1e6, 'f', 1); }
} // namespace

DownloadDialog::DownloadDialog(QWidget* parent)
    : QDialog(parent), m_list(new QListWidget), m_details(new QLabel), m_status(new QLabel),
      m_progress(new QProgressBar), m_download(new QPushButton(tr("Download"))),
      m_cancel(new QPushButton(tr("Cancel Download"))), m_runner(new JobRunner(QStringLiteral("download"), this)) {
    setWindowTitle(tr("Download a Model"));
    m_details->setWordWrap(true);
    m_details->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->setWordWrap(true);
    m_progress->setVisible(false);
    m_cancel->setVisible(false);
    m_download->setToolTip(tr("Download the selected model from its publisher; it opens when done"));
    m_cancel->setToolTip(tr("Stop the download; what has arrived is kept to resume from, never opened"));
    m_list->setAccessibleName(tr("Models to download"));
    auto* close = new QPushButton(tr("Close"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_download);
    buttons->addWidget(m_cancel);
    buttons->addStretch(1);
    buttons->addWidget(close);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(
        new QLabel(tr("Checkpoints from their publishers, read without running Python. They are saved in %1.")
                       .arg(QDir::toNativeSeparators(q(core::model::downloadedModelsDir().string())))));
    layout->addWidget(m_list, 1);
    layout->addWidget(m_details);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addLayout(buttons);
    resize(640, 480);
    refreshList();

    connect(m_list, &QListWidget::currentRowChanged, this, &DownloadDialog::showDetails);
    connect(m_list, &QListWidget::itemDoubleClicked, this, [this] { m_download->click(); });
    connect(m_download, &QPushButton::clicked, this, [this] {
        if (auto* item = m_list->currentItem())
            start(item->data(Qt::UserRole).toString());
    });
    connect(m_cancel, &QPushButton::clicked, this, &DownloadDialog::cancel);
    connect(m_runner, &JobRunner::progress, this, [this](qint64 done, qint64 total, const QString&) {
        if (total <= 0) {
            m_progress->setRange(0, 0);
            m_progress->setFormat(tr("%1 MB").arg(megabytes(done)));
            return;
        }
        m_progress->setRange(0, 1000);
        m_progress->setValue(int(1000 * done / total));
        const double eta = m_runner->etaSeconds();
        m_progress->setFormat(
            tr("%1 of %2 MB · %3 left").arg(megabytes(done), megabytes(total), eta >= 0 ? formatEta(eta) : tr("?")));
    });
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        setRunning(false);
        m_status->setText(tr("Download failed: %1").arg(message));
        refreshList();
        Q_EMIT failed(m_status->text());
    });
    connect(m_runner, &JobRunner::cancelled, this, [this] {
        setRunning(false);
        const qint64 kept = core::model::partialDownloadBytes(m_name.toStdString());
        m_status->setText(
            kept > 0 ? tr("Cancelled; %1 MB are kept, not opened: Download resumes from there.").arg(megabytes(kept))
                     : tr("Cancelled; nothing was kept."));
        refreshList();
        Q_EMIT failed(m_status->text());
    });
    connect(close, &QPushButton::clicked, this, &QDialog::reject);
    m_list->setCurrentRow(0);
}

DownloadDialog::~DownloadDialog() {
    m_runner->cancel();
    m_runner->waitForIdle(10000);
}

bool DownloadDialog::busy() const { return m_runner->busy(); }

void DownloadDialog::showDetails(int row) {
    const auto& all = core::model::modelCatalogue();
    if (row < 0 || row >= int(all.size()))
        return;
    const auto& e = all[std::size_t(row)];
    QString hash;
    if (e.verified())
        hash = tr("Checked against the SHA-256 %1 from %2.")
                   .arg(e.sha256.size() == 64 ? q(e.sha256) : tr("prefix %1").arg(q(e.sha256)), q(e.hashSource));
    else if (const auto pin = core::model::pinnedSha256(e.name))
        hash = tr("Unverified: its publisher gives no hash. Pinned at the first download: %1.").arg(q(*pin));
    else
        hash = tr("Unverified: its publisher gives no hash. The first download's SHA-256 is pinned and later "
                  "downloads must match it.");
    const qint64 part = core::model::partialDownloadBytes(e.name);
    m_details->setText(
        tr("<b>%1</b><br>%2<br>About %3 MB · licence %4<br>%5%6<br><small>%7</small>")
            .arg(q(e.title).toHtmlEscaped(), q(e.note).toHtmlEscaped())
            .arg(e.approxMegabytes)
            .arg(q(e.licence).toHtmlEscaped(), hash.toHtmlEscaped(),
                 part > 0 ? tr("<br>%1 MB downloaded earlier; Download resumes.").arg(megabytes(part)) : QString(),
                 q(e.url).toHtmlEscaped()));
}

void DownloadDialog::setRunning(bool running) {
    m_progress->setVisible(running);
    m_cancel->setVisible(running);
    m_download->setEnabled(!running);
    if (running) {
        m_progress->setRange(0, 0);
        m_progress->setFormat(QString());
    }
}

void DownloadDialog::refreshList() {
    const int row = m_list->currentRow();
    m_list->clear();
    for (const auto& e : core::model::modelCatalogue()) {
        const bool have = !core::model::downloadedModelPath(e.name).empty();
        const bool partial = !have && core::model::partialDownloadBytes(e.name) > 0;
        auto* item = new QListWidgetItem(tr("%1 — %2 (%3 MB)%4%5")
                                             .arg(q(e.name), q(e.title))
                                             .arg(e.approxMegabytes)
                                             .arg(have      ? tr(" · downloaded")
                                                  : partial ? tr(" · partly downloaded")
                                                            : QString(),
                                                  e.verified() ? QString() : tr(" · unverified")));
        item->setData(Qt::UserRole, q(e.name));
        item->setToolTip(q(e.note));
        m_list->addItem(item);
    }
    m_list->setCurrentRow(std::max(0, row));
    showDetails(m_list->currentRow());
}

QString DownloadDialog::statusText() const { return m_status->text(); }

void DownloadDialog::start(const QString& name) {
    if (busy())
        return;
    const auto entry = core::model::catalogueEntry(name.toStdString());
    if (!entry) {
        m_status->setText(tr("Unknown model '%1'.").arg(name));
        return;
    }
    m_name = name;
    const std::string key = entry->name;
    const bool started = m_runner->start([this, key](const JobRunner::Context& ctx) -> std::function<void()> {
        const auto got = core::model::downloadCatalogueModel(key, ctx.progress, &ctx.cancel);
        return [this, got] {
            setRunning(false);
            const QString path = q(got.file.string());
            m_status->setText(tr("Downloaded %1 (SHA-256 %2, %3). It is open now; `--model %4` uses it on the command "
                                 "line.")
                                  .arg(QDir::toNativeSeparators(path), q(got.sha256),
                                       QString::fromLatin1(core::model::hashCheckName(got.check)), m_name));
            refreshList();
            Q_EMIT downloaded(m_name, path);
        };
    });
    if (!started)
        return;
    setRunning(true);
    const qint64 part = core::model::partialDownloadBytes(key);
    m_status->setText(part > 0 ? tr("Resuming %1 after %2 MB…").arg(q(entry->title)).arg(megabytes(part))
                               : tr("Downloading %1…").arg(q(entry->title)));
}

void DownloadDialog::cancel() { m_runner->cancel(); }

} // namespace vitrine::ui
