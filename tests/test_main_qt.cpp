// Catch2 entry point for UI tests: a QApplication (offscreen in CTest) around the session.
#include <QApplication>

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
    return Catch::Session().run(argc, argv);
}
