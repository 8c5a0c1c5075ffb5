#pragma once
// The main view when no data set is open: what Vitrine does, and the three ways to start
// (open a folder, open the demo photos, pick a model); dropping a folder anywhere on the
// window works too. While a folder is being opened it says so.

#include <QWidget>

class QLabel;
class QPushButton;

namespace vitrine::ui {

class WelcomePage : public QWidget {
    Q_OBJECT
public:
    explicit WelcomePage(QWidget* parent = nullptr);

    /// Shows "Opening <folder>…" (or the welcome again when `folder` is empty).
    void setOpening(const QString& folder);
    /// A line under the buttons (e.g. that the folder just opened holds no images).
    void setMessage(const QString& text);
    void setDemoAvailable(bool available);

    QPushButton* openButton() const { return m_open; }
    QPushButton* demoButton() const { return m_demo; }
    QPushButton* modelButton() const { return m_model; }

Q_SIGNALS:
    void openFolderRequested();
    void openDemoRequested();
    void chooseModelRequested();

private:
    QLabel* m_status;
    QPushButton* m_open;
    QPushButton* m_demo;
    QPushButton* m_model;
};

} // namespace vitrine::ui
