#include <QApplication>

#include "core/common/runtime.h"
#include "ui/main_window.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    QApplication app(argc, argv);
    vitrine::ui::MainWindow window;
    window.show();
    return app.exec();
}
