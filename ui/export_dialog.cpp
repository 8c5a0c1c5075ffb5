#include "ui/export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

#include "core/data/dataset.h"
#include "core/io/embedding_export.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/workspace.h"

namespace vitrine::ui {
namespace {

/// What an export reads: the workspace's embeddings as a view that shares their storage (a
/// memory-mapped file stays mapped and is streamed by the writers; nothing is copied), and
/// the rows and map coordinates taken from the GUI's models while on the GUI thread.
struct ExportBundle {
    core::MatrixView embeddings;
    core::io::RowTable rows;
    core::Matrix coords; ///< [N, 2] or empty
    core::io::ExportSource source() const { return {embeddings, rows, coords}; }
};

std::shared_ptr<ExportBundle> collect(Workspace* ws, DatasetModel* dataset) {
    auto set = std::make_shared<ExportBundle>();
    set->embeddings = ws->embeddings();
    if (set->embeddings.data && !set->embeddings.owner) // a borrowed view: not safe to keep
        set->embeddings = core::MatrixView::owning(ws->embeddingsCopy());
    const auto& ds = dataset->dataset();
    const int levels = ds.maxLevel() + 1;
    set->rows.columns = {"path", "label"};
    for (int l = 0; l < levels && levels > 1; ++l)
        set->rows.columns.push_back("level" + std::to_string(l + 1));
    set->rows.columns.push_back("split");
    set->rows.columns.push_back("file");
    const auto& rowOf = ws->embeddingRowOf();
    std::vector<int> order(std::size_t(set->embeddings.rows), -1);
    for (int r = 0; r < rowOf.size(); ++r)
        if (rowOf[r] >= 0)
            order[std::size_t(rowOf[r])] = r;
    const bool haveCoords = ws->layout().size() == rowOf.size();
    if (haveCoords)
        set->coords = core::Matrix(set->embeddings.rows, 2);
    set->rows.rows.reserve(order.size());
    for (std::size_t e = 0; e < order.size(); ++e) {
        const auto& s = ds.samples[std::size_t(order[e])];
        std::vector<std::string> row{s.relativePath, core::data::Dataset::labelAt(s, dataset->labelLevel())};
        for (int l = 0; l < levels && levels > 1; ++l)
            row.push_back(core::data::Dataset::labelAt(s, l));
        row.push_back(core::data::isValidation(s.relativePath) ? "validation" : "train");
        row.push_back(s.path.string());
        set->rows.rows.push_back(std::move(row));
        if (haveCoords) {
            QPointF p = ws->layout()[order[e]];
            set->coords(std::int64_t(e), 0) = float(p.x());
            set->coords(std::int64_t(e), 1) = float(p.y());
        }
    }
    return set;
}

core::io::ExportOptions optionsFor(const QString& format, DatasetModel* dataset) {
    core::io::ExportOptions o;
    o.format = core::io::parseExportFormat(format.toStdString());
    o.imagesRoot = dataset->dataset().root;
    return o;
}

} // namespace

ExportDialog::ExportDialog(Workspace* workspace, DatasetModel* dataset, QWidget* parent)
    : QDialog(parent), m_workspace(workspace), m_dataset(dataset), m_format(new QComboBox), m_path(new QLineEdit),
      m_progress(new QProgressBar), m_status(new QLabel), m_export(new QPushButton(tr("Export"))),
      m_cancel(new QPushButton(tr("Close"))), m_runner(new JobRunner(tr("Export"), this)) {
    setWindowTitle(tr("Export embeddings"));
    m_format->addItem(tr("NumPy .npy (+ rows .tsv)"), QStringLiteral("npy"));
    m_format->addItem(tr("CSV (metadata + values)"), QStringLiteral("csv"));
    m_format->addItem(tr("safetensors"), QStringLiteral("safetensors"));
    m_format->addItem(tr("TensorBoard Projector folder"), QStringLiteral("projector"));
    QSettings q;
    m_format->setCurrentIndex(q.value(QStringLiteral("export/format"), 0).toInt());
    m_path->setText(
        q.value(QStringLiteral("export/path"), QDir::homePath() + QStringLiteral("/embeddings.npy")).toString());
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browse);
    auto* form = new QFormLayout;
    form->addRow(tr("Format"), m_format);
    form->addRow(tr("Save to"), pathRow);
    m_progress->setVisible(false);
    m_status->setWordWrap(true);
    m_status->setText(tr("%1 embeddings of width %2, with path, labels, split and map coordinates.")
                          .arg(workspace->embeddings().rows)
                          .arg(workspace->embeddings().cols));
    auto* buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(m_export);
    buttons->addWidget(m_cancel);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addLayout(buttons);
    resize(560, 200);

    connect(browse, &QToolButton::clicked, this, &ExportDialog::browse);
    connect(m_export, &QPushButton::clicked, this, &ExportDialog::startExport);
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        if (m_runner->busy())
            m_runner->cancel();
        else
            reject();
    });
    connect(m_runner, &JobRunner::progress, this, [this](qint64 done, qint64 total, const QString&) {
        m_progress->setRange(0, int(std::max<qint64>(total, 1)));
        m_progress->setValue(int(done));
    });
    connect(m_runner, &JobRunner::failed, this, [this](const QString& message) {
        m_status->setText(QStringLiteral("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped()));
    });
    connect(m_runner, &JobRunner::cancelled, this,
            [this] { m_status->setText(tr("Cancelled; earlier files are unchanged.")); });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_export->setEnabled(true);
        m_cancel->setText(tr("Close"));
        m_progress->setVisible(false);
    });
}

void ExportDialog::browse() {
    const QString format = m_format->currentData().toString();
    QString chosen = format == QStringLiteral("projector")
                         ? QFileDialog::getExistingDirectory(this, tr("Projector folder"), m_path->text())
                         : QFileDialog::getSaveFileName(this, tr("Export to"), m_path->text(),
                                                        QStringLiteral("*.%1").arg(format));
    if (!chosen.isEmpty())
        m_path->setText(chosen);
}

void ExportDialog::startExport() {
    const QString format = m_format->currentData().toString();
    const QString out = m_path->text().trimmed();
    if (out.isEmpty())
        return;
    QSettings q;
    q.setValue(QStringLiteral("export/format"), m_format->currentIndex());
    q.setValue(QStringLiteral("export/path"), out);
    auto set = collect(m_workspace, m_dataset);
    core::io::ExportOptions options;
    try {
        options = optionsFor(format, m_dataset);
    } catch (const std::exception& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return;
    }
    m_export->setEnabled(false);
    m_cancel->setText(tr("Cancel"));
    m_progress->setVisible(true);
    m_progress->setRange(0, 0);
    m_runner->start([set, options, out, this](const JobRunner::Context& ctx) -> std::function<void()> {
        auto result = core::io::exportEmbeddings(set->source(), out.toStdString(), options, ctx.progress, &ctx.cancel);
        QStringList files;
        for (const auto& f : result.files)
            files << QString::fromStdString(f.filename().string());
        return
            [this, files, out] { m_status->setText(tr("Wrote %1 in %2").arg(files.join(QStringLiteral(", ")), out)); };
    });
}

QString ExportDialog::exportNow(Workspace* workspace, DatasetModel* dataset, const QString& format,
                                const QString& out) {
    try {
        core::io::exportEmbeddings(collect(workspace, dataset)->source(), out.toStdString(),
                                   optionsFor(format, dataset));
        return {};
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

} // namespace vitrine::ui
