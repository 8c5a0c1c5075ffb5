#pragma once
// Model → Download a Model…: the catalogue (core/model/model_catalogue.h) with sizes,
// licences and what each is good for; one click downloads the publisher's file with a
// progress bar, ETA and Cancel, into a temporary that becomes the file only when complete
// and checked (the publisher's hash prefix, where its file name has one). Nothing is left
// behind by a cancelled or failed download. The network work is Qt's, off the GUI thread.

#include <QCryptographicHash>
#include <QDialog>
#include <QElapsedTimer>
#include <QString>

class QLabel;
class QListWidget;
class QNetworkAccessManager;
class QNetworkReply;
class QProgressBar;
class QPushButton;
class QSaveFile;

namespace vitrine::ui {

class DownloadDialog : public QDialog {
    Q_OBJECT
public:
    explicit DownloadDialog(QWidget* parent = nullptr);
    ~DownloadDialog() override;

    /// Downloads catalogue entry `name` (the Download button does this for the selection).
    void start(const QString& name);
    /// Stops the running download; the partial file is removed.
    void cancel();
    bool busy() const { return m_reply != nullptr; }

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
    void finish();

    QListWidget* m_list;
    QLabel* m_details;
    QLabel* m_status;
    QProgressBar* m_progress;
    QPushButton* m_download;
    QPushButton* m_cancel;
    QNetworkAccessManager* m_net;
    QNetworkReply* m_reply = nullptr;
    QSaveFile* m_file = nullptr;
    QCryptographicHash m_hash{QCryptographicHash::Sha256};
    QElapsedTimer m_clock;
    QString m_name;
};

} // namespace vitrine::ui
