#pragma once
// Model → Download a Model…: the catalogue (core/model/model_catalogue.h) with sizes,
// licences, hash sources and what each is good for; one click downloads the publisher's file
// with a progress bar, ETA and Cancel. The download is core's (core/model/model_download.h,
// the same as `vitrine-cli models download`) on a JobRunner thread: the file appears only when
// complete and its SHA-256 checked (published, or pinned at the first download); a cancelled
// or broken download keeps only a ".part" that the next click resumes.

#include <QDialog>
#include <QString>

class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;

namespace vitrine::ui {

class DownloadDialog : public QDialog {
    Q_OBJECT
public:
    explicit DownloadDialog(QWidget* parent = nullptr);
    ~DownloadDialog() override;

    /// Downloads catalogue entry `name` (the Download button does this for the selection).
    void start(const QString& name);
    /// Stops the running download; what has arrived is kept (not loadable) to resume.
    void cancel();
    bool busy() const;

    QListWidget* list() const { return m_list; }
    QPushButton* downloadButton() const { return m_download; }
    QProgressBar* progress() const { return m_progress; }
    QString statusText() const;

Q_SIGNALS:
    /// The file is complete and checked: load it with `path`.
    void downloaded(const QString& name, const QString& path);
    void failed(const QString& message);

private:
    void refreshList();
    void showDetails(int row);
    void setRunning(bool running);

    QListWidget* m_list;
    QLabel* m_details;
    QLabel* m_status;
    QProgressBar* m_progress;
    QPushButton* m_download;
    QPushButton* m_cancel;
    class JobRunner* m_runner;
    QString m_name;
};

} // namespace vitrine::ui
