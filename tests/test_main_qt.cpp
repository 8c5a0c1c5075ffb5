// Catch2 entry point for UI tests: a QApplication (offscreen in CTest) around the session.
#include <QApplication>
#include <QElapsedTimer>
#include <QMessageBox>
#include <QPointer>
#include <QTimer>

#include <cstdio>

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/common/runtime.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    // The icons and other resources live in the static ui library (as for the app).
    Q_INIT_RESOURCE(vitrine);
    // The window shows a job's failure in a modal message box. One that no test answers would
    // hold its case until CTest's timeout, so after 3 s it is closed and its text printed: the
    // case goes on, fails on what it checks, and the log says why. (Tests that expect a box
    // read and close it sooner themselves.)
    QTimer closer;
    QPointer<QMessageBox> seen;
    QElapsedTimer since;
    closer.setInterval(250);
    QObject::connect(&closer, &QTimer::timeout, [&] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (box != seen) {
            seen = box;
            since.start();
        } else if (box && since.elapsed() > 3000) {
            std::fprintf(stderr, "UI test: closed a message box nobody answered: %s\n", qPrintable(box->text()));
            box->reject();
            seen = nullptr;
        }
    });
    closer.start();
    return Catch::Session().run(argc, argv);
}
