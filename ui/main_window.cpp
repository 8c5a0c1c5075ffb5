#include "ui/main_window.h"

namespace vitrine::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) { setWindowTitle("Vitrine"); }

} // namespace vitrine::ui
