#include "ui/selection_export_dialog.h"

#include <QComboBox>
#include <QDesktopServices>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>

#include "ui/job_runner.h"

namespace fs = std::filesystem;

namespace vitrine::ui {

namespace {

const char* formatKey(int format) {
    switch (format) {
    case SelectionExportDialog::ImageFolder: return "folder";
    case SelectionExportDialog::Montage: return "montage";
    default: return "csv";
    }
}

QString defaultPath(int format) {
    const QString home = QDir::homePath();
    switch (format) {
    case SelectionExportDialog::ImageFolder: return home + QStringLiteral("/selection");
    case SelectionExportDialog::Montage: return home + QStringLiteral("/selection.png");
    default: return home + QStringLiteral("/selection.csv");
    }
}

QString settingsKey(int format) { return QStringLiteral("selectionExport/path/") + QLatin1String(formatKey(format)); }

/// "7 cat, 5 dog" (the most frequent labels first, at most four named).
QString labelSummary(const std::vector<core::analysis::SelectedImage>& images) {
    std::map<std::string, int> counts;
    for (const auto& i : images)
        ++counts[i.label];
    std::vector<std::pair<int, std::string>> byCount;
    for (const auto& [label, n] : counts)
        byCount.emplace_back(-n, label);
    std::sort(byCount.begin(), byCount.end());
    QStringList parts;
    for (std::size_t i = 0; i < byCount.size() && i < 4; ++i)
        parts << QStringLiteral("%1 %2")
                     .arg(-byCount[i].first)
                     .arg(byCount[i].second.empty() ? QObject::tr("unlabelled")
                                                    : QString::fromStdString(byCount[i].second));
    if (byCount.size() > 4)
        parts << QObject::tr("%n more class(es)", "", int(byCount.size() - 4));
    return parts.join(QStringLiteral(", "));
}

} // namespace

SelectionExportDialog::SelectionExportDialog(const QString& root, std::vector<core::analysis::SelectedImage> images,
                                             QWidget* parent)
    : QDialog(parent), m_root(root), m_images(std::move(images)), m_format(new QComboBox), m_path(new QLineEdit),
      m_montageOptions(new QWidget), m_columns(new QSpinBox), m_cell(new QSpinBox), m_caption(new QComboBox),
      m_progress(new QProgressBar), m_status(new QLabel), m_export(new QPushButton(tr("&Export"))),
      m_close(new QPushButton(tr("Close"))), m_showFolder(new QPushButton(tr("Show in &Folder"))),
      m_runner(new JobRunner(tr("Export selection"), this)) {
    setObjectName(QStringLiteral("selectionExportDialog"));
    setWindowTitle(tr("Export %n Selected Image(s)", "", int(m_images.size())));

    m_format->addItem(
        tr("CSV list (path, label%1)")
            .arg(std::any_of(m_images.begin(), m_images.end(), [](const auto& i) { return !std::isnan(i.score); })
                     ? tr(", score")
                     : QString()));
    m_format->setItemData(Csv,
                          tr("One line per image: its path relative to the data set, its class and, when the map "
                             "is coloured by a score, that score. Opens in a spreadsheet or pandas."),
                          Qt::ToolTipRole);
    m_format->addItem(tr("Copy as an ImageFolder tree (class/file)"));
    m_format->setItemData(ImageFolder,
                          tr("Copies the images into a folder with one sub-folder per class, as torchvision's "
                             "ImageFolder reads it. Existing files are never replaced: a clash gets "
                             "\"name (2).jpg\"."),
                          Qt::ToolTipRole);
    m_format->addItem(tr("Montage PNG (a grid of thumbnails)"));
    m_format->setItemData(Montage,
                          tr("One picture of all the selected images, side by side, for a report or an "
                             "issue."),
                          Qt::ToolTipRole);
    m_format->setAccessibleName(tr("Export format"));
    m_path->setAccessibleName(tr("Destination"));
    m_path->setClearButtonEnabled(true);
    auto* browse = new QPushButton(tr("&Browse…"));
    browse->setToolTip(tr("Choose the destination"));

    m_columns->setRange(0, 100);
    m_columns->setSpecialValueText(tr("auto"));
    m_columns->setToolTip(tr("Thumbnails per row; auto makes the grid about square"));
    m_cell->setRange(32, 1024);
    m_cell->setSingleStep(16);
    m_cell->setSuffix(tr(" px"));
    m_cell->setToolTip(tr("Side of each thumbnail's square cell, in pixels"));
    m_caption->addItems({tr("None"), tr("File name"), tr("Class"), tr("Class: file name")});
    m_caption->setToolTip(tr("The line under each thumbnail (ASCII only: other characters show as '?')"));
    auto* montageForm = new QFormLayout(m_montageOptions);
    montageForm->setContentsMargins(0, 0, 0, 0);
    montageForm->addRow(tr("Columns"), m_columns);
    montageForm->addRow(tr("Cell size"), m_cell);
    montageForm->addRow(tr("Caption"), m_caption);

    QSettings s;
    m_format->setCurrentIndex(std::clamp(s.value(QStringLiteral("selectionExport/format"), 0).toInt(), 0, 2));
    m_columns->setValue(s.value(QStringLiteral("selectionExport/columns"), 0).toInt());
    m_cell->setValue(s.value(QStringLiteral("selectionExport/cell"), 160).toInt());
    m_caption->setCurrentIndex(std::clamp(s.value(QStringLiteral("selectionExport/caption"), 1).toInt(), 0, 3));
    m_path->setText(s.value(settingsKey(m_format->currentIndex()), defaultPath(m_format->currentIndex())).toString());

    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(m_path, 1);
    pathRow->addWidget(browse);
    auto* form = new QFormLayout;
    form->addRow(tr("&Format"), m_format);
    auto* pathLabel = new QLabel(tr("&Save to"));
    pathLabel->setBuddy(m_path);
    form->addRow(pathLabel, pathRow);
    auto* what = new QLabel(tr("%n image(s): %1", "", int(m_images.size())).arg(labelSummary(m_images)));
    what->setWordWrap(true);
    m_progress->setVisible(false);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->setMinimumHeight(m_status->fontMetrics().lineSpacing() * 3);
    m_status->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_export->setDefault(true);
    m_export->setToolTip(tr("Write the export (Enter)"));
    m_close->setToolTip(tr("Close the dialog; while exporting, stop the export (Esc)"));
    m_showFolder->setToolTip(tr("Open the folder that holds what was just written"));
    m_showFolder->setVisible(false);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_showFolder);
    buttons->addStretch(1);
    buttons->addWidget(m_export);
    buttons->addWidget(m_close);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(what);
    layout->addLayout(form);
    layout->addWidget(m_montageOptions);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addStretch(1);
    layout->addLayout(buttons);
    resize(580, sizeHint().height());

    connect(m_format, qOverload<int>(&QComboBox::currentIndexChanged), this, &SelectionExportDialog::formatChanged);
    connect(browse, &QPushButton::clicked, this, &SelectionExportDialog::browse);
    connect(m_export, &QPushButton::clicked, this, &SelectionExportDialog::startExport);
    connect(m_close, &QPushButton::clicked, this, &SelectionExportDialog::reject);
    connect(m_showFolder, &QPushButton::clicked, this, [this] {
        const QFileInfo info(m_lastOutput);
        QDesktopServices::openUrl(QUrl::fromLocalFile(info.isDir() ? info.absoluteFilePath() : info.absolutePath()));
    });
    connect(m_runner, &JobRunner::progress, this,
            [this](qint64 done, qint64 total, const QString&, core::StageKind kind) {
                m_progress->setRange(0, int(std::max<qint64>(total, 1)));
                m_progress->setValue(int(done));
                m_status->setText(tr("%1: %2 of %3…")
                                      .arg(kind == core::StageKind::Drawing ? tr("Drawing") : tr("Copying"))
                                      .arg(done)
                                      .arg(total));
            });
    connect(m_runner, &JobRunner::failed, this, &SelectionExportDialog::showError);
    connect(m_runner, &JobRunner::cancelled, this, [this] {
        m_status->setText(
            format() == ImageFolder
                ? tr("Cancelled. The images copied before that are complete and stay; nothing was replaced.")
                : tr("Cancelled; nothing was written."));
    });
    connect(m_runner, &JobRunner::idle, this, [this] {
        m_export->setEnabled(true);
        m_format->setEnabled(true);
        m_close->setText(tr("Close"));
        m_progress->setVisible(false);
    });
    formatChanged();
}

SelectionExportDialog::~SelectionExportDialog() {
    m_runner->cancel();
    m_runner->waitForIdle(10000);
}

SelectionExportDialog::Format SelectionExportDialog::format() const { return Format(m_format->currentIndex()); }

void SelectionExportDialog::reject() {
    if (m_runner->busy()) {
        m_runner->cancel();
        return;
    }
    QDialog::reject();
}

void SelectionExportDialog::formatChanged() {
    // Each format keeps its own destination: a folder for a copy, a file for the others.
    const int f = m_format->currentIndex();
    m_path->setText(QSettings().value(settingsKey(f), defaultPath(f)).toString());
    m_path->setPlaceholderText(f == ImageFolder ? tr("a folder (created if needed)") : tr("a file"));
    m_path->setToolTip(f == ImageFolder ? tr("The folder to copy into; class sub-folders are created in it")
                       : f == Montage   ? tr("The PNG file to write")
                                        : tr("The CSV file to write"));
    m_montageOptions->setVisible(f == Montage);
    m_status->clear();
    m_showFolder->setVisible(false);
    // Fit the height to what this format shows: no blank where the montage options were.
    if (layout()) {
        layout()->activate();
        resize(width(), sizeHint().height());
    }
}

void SelectionExportDialog::browse() {
    const QString current = m_path->text().trimmed();
    QString chosen;
    switch (format()) {
    case ImageFolder:
        chosen = QFileDialog::getExistingDirectory(this, tr("Copy the Selected Images Into"), current);
        break;
    case Montage:
        chosen = QFileDialog::getSaveFileName(this, tr("Save the Montage As"), current, tr("PNG images (*.png)"));
        break;
    case Csv:
        chosen = QFileDialog::getSaveFileName(this, tr("Save the List As"), current, tr("CSV files (*.csv)"));
        break;
    }
    if (!chosen.isEmpty())
        m_path->setText(QDir::toNativeSeparators(chosen));
}

void SelectionExportDialog::showError(const QString& message) {
    QString advice;
    switch (format()) {
    case ImageFolder:
        advice = tr("The images copied before the error are complete and stay; nothing was replaced. Check that "
                    "the source file is there and that the destination has space and is writable, or choose "
                    "another folder, then Export again.");
        break;
    default:
        advice = tr("Nothing was written. Check that the folder exists, is writable and has space, or choose "
                    "another destination, then Export again.");
        break;
    }
    m_status->setText(QStringLiteral("<span style='color:#c0392b'><b>%1</b> %2</span><br>%3")
                          .arg(tr("Export failed:"), message.toHtmlEscaped(), advice.toHtmlEscaped()));
}

void SelectionExportDialog::startExport() {
    if (m_runner->busy())
        return;
    const Format f = format();
    QString out = m_path->text().trimmed();
    if (out.isEmpty()) {
        showError(tr("no destination given"));
        m_path->setFocus();
        return;
    }
    out = QDir::cleanPath(QDir::fromNativeSeparators(out));
    if (out.startsWith(QStringLiteral("~/")))
        out = QDir::homePath() + out.mid(1);
    const QFileInfo info(out);
    if (f != ImageFolder) {
        const QString suffix = f == Montage ? QStringLiteral("png") : QStringLiteral("csv");
        if (info.suffix().compare(suffix, Qt::CaseInsensitive) != 0 && !info.isDir())
            out += QLatin1Char('.') + suffix;
        const QFileInfo file(out);
        if (file.isDir()) {
            showError(tr("%1 is a folder; give a file name, e.g. %2")
                          .arg(out, QDir(out).filePath(QStringLiteral("selection.") + suffix)));
            return;
        }
        if (!file.absoluteDir().exists()) {
            showError(tr("%1: the folder %2 does not exist").arg(out, file.absolutePath()));
            return;
        }
        if (file.exists() &&
            QMessageBox::question(this, windowTitle(), tr("%1 already exists. Replace it?").arg(out),
                                  QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) != QMessageBox::Yes)
            return;
    } else if (info.exists() && !info.isDir()) {
        showError(tr("%1 is a file; the copy needs a folder (a new or an existing one)").arg(out));
        return;
    }
    m_path->setText(QDir::toNativeSeparators(out));

    QSettings s;
    s.setValue(QStringLiteral("selectionExport/format"), int(f));
    s.setValue(settingsKey(f), QDir::toNativeSeparators(out));
    s.setValue(QStringLiteral("selectionExport/columns"), m_columns->value());
    s.setValue(QStringLiteral("selectionExport/cell"), m_cell->value());
    s.setValue(QStringLiteral("selectionExport/caption"), m_caption->currentIndex());

    core::analysis::MontageOptions mo;
    mo.columns = m_columns->value();
    mo.cell = m_cell->value();
    using C = core::analysis::MontageOptions::Caption;
    mo.caption = std::array{C::None, C::FileName, C::Label, C::Both}[std::size_t(m_caption->currentIndex())];

    const fs::path root = m_root.toStdString();
    const fs::path dest = out.toStdString();
    const auto images = m_images;
    const bool started = m_runner->start([this, f, root, dest, images, mo,
                                          out](const JobRunner::Context& ctx) -> std::function<void()> {
        QString done;
        QStringList warnings;
        switch (f) {
        case Csv:
            core::analysis::writeSelectionCsv(dest, images);
            done = tr("Wrote the list of %n image(s) to %1.", "", int(images.size())).arg(out);
            break;
        case ImageFolder: {
            const auto copied = core::analysis::copyAsImageFolder(root, images, dest, ctx.progress, &ctx.cancel);
            int renamed = 0;
            for (const auto& c : copied)
                renamed += c.destination.filename() != c.source.filename() ? 1 : 0;
            done = tr("Copied %n image(s) into %1, one folder per class.", "", int(copied.size())).arg(out);
            if (renamed > 0)
                done += QLatin1Char(' ') + tr("%n name(s) were taken and got a \" (2)\"-style suffix.", "", renamed);
            break;
        }
        case Montage: {
            const auto m = core::analysis::writeMontage(dest, root, images, mo, {}, ctx.progress, &ctx.cancel);
            done = tr("Wrote a %1 × %2 montage of %n image(s) to %3.", "", int(images.size()))
                       .arg(m.image.cols)
                       .arg(m.image.rows)
                       .arg(out);
            for (const auto& w : m.warnings)
                warnings << QString::fromStdString(w);
            break;
        }
        }
        return [this, done, warnings, out] {
            m_lastOutput = out;
            QString text = done.toHtmlEscaped();
            if (!warnings.isEmpty())
                text += QStringLiteral("<br><span style='color:#b9770e'>%1</span>")
                            .arg(tr("Shown as placeholders (could not be read): %1")
                                     .arg(warnings.join(QStringLiteral("; ")))
                                     .toHtmlEscaped());
            m_status->setText(text);
            m_showFolder->setVisible(true);
        };
    });
    if (started) {
        m_export->setEnabled(false);
        m_format->setEnabled(false);
        m_close->setText(tr("Cancel"));
        m_progress->setVisible(true);
        m_progress->setRange(0, 0);
        m_showFolder->setVisible(false);
        m_status->setText(tr("Exporting…"));
    }
}

} // namespace vitrine::ui
