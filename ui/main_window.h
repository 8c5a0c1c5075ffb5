#pragma once
// Vitrine's main window: docked panels that follow one selection.

#include <QMainWindow>

namespace vitrine::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
};

} // namespace vitrine::ui
