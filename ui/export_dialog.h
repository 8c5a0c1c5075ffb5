#pragma once
// Export the current embeddings (with path, labels at every level, split and map
// coordinates) as .npy, .csv, .safetensors or a TensorBoard Projector bundle. The
// writing runs in a worker with progress and can be cancelled; files are written
// atomically, so a failed export leaves earlier files as they were.

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace vitrine::ui {

class DatasetModel;
class JobRunner;
class Workspace;

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(Workspace* workspace, DatasetModel* dataset, QWidget* parent = nullptr);
    /// Exports without the dialog's widgets (tests, scripting); returns the error or "".
    static QString exportNow(Workspace* workspace, DatasetModel* dataset, const QString& format, const QString& out);

private:
    void browse();
    void startExport();

    Workspace* m_workspace;
    DatasetModel* m_dataset;
    QComboBox* m_format;
    QLineEdit* m_path;
    QProgressBar* m_progress;
    QLabel* m_status;
    QPushButton* m_export;
    QPushButton* m_cancel;
    JobRunner* m_runner;
};

} // namespace vitrine::ui
