#pragma once
// "Export Selection…": the images selected on the map (or anywhere else) turned into a CSV
// list, a copy as an ImageFolder tree, or a montage PNG — the same code as
// `vitrine-cli select` (core/analysis/selection_export.h). The writing runs on the dialog's
// JobRunner with progress and Cancel; nothing is ever overwritten in an ImageFolder copy, and
// the CSV and the PNG are written atomically. The format, each format's destination and the
// montage options are remembered (QSettings, "selectionExport/...").

#include <QDialog>
#include <QString>

#include <vector>

#include "core/analysis/selection_export.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QWidget;

namespace vitrine::ui {

class JobRunner;

class SelectionExportDialog : public QDialog {
    Q_OBJECT
public:
    /// The choices of the Format box, in its order.
    enum Format { Csv = 0, ImageFolder = 1, Montage = 2 };

    /// `root`: the data set folder relative paths are taken from; `images`: what to export, in
    /// order (paths relative to `root` or absolute; a score is written to the CSV when set).
    SelectionExportDialog(const QString& root, std::vector<core::analysis::SelectedImage> images,
                          QWidget* parent = nullptr);
    ~SelectionExportDialog() override;

    /// Starts the export with the dialog's current choices (the Export button).
    void startExport();

    QComboBox* formatBox() const { return m_format; }
    QLineEdit* pathEdit() const { return m_path; }
    QSpinBox* columnsBox() const { return m_columns; }
    QSpinBox* cellBox() const { return m_cell; }
    QComboBox* captionBox() const { return m_caption; }
    QPushButton* exportButton() const { return m_export; }
    QLabel* statusLabel() const { return m_status; }
    JobRunner* runner() const { return m_runner; }
    /// The files or folder the last successful export wrote ("" before one).
    const QString& lastOutput() const { return m_lastOutput; }

    void reject() override; ///< cancels a running export first

private:
    void browse();
    void formatChanged();
    void showError(const QString& message);
    Format format() const;

    QString m_root;
    std::vector<core::analysis::SelectedImage> m_images;
    QComboBox* m_format;
    QLineEdit* m_path;
    QWidget* m_montageOptions;
    QSpinBox* m_columns;
    QSpinBox* m_cell;
    QComboBox* m_caption;
    QProgressBar* m_progress;
    QLabel* m_status;
    QPushButton* m_export;
    QPushButton* m_close;
    QPushButton* m_showFolder;
    JobRunner* m_runner;
    QString m_lastOutput;
};

} // namespace vitrine::ui
