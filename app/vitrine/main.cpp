#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>

#include "core/common/runtime.h"
#include "ui/app_paths.h"
#include "ui/main_window.h"
#include "ui/workspace.h"

int main(int argc, char** argv) {
    vitrine::core::ensureFastBlas(argc, argv);
    QApplication app(argc, argv);
    // resources/vitrine.qrc is compiled into the static ui library, whose resources the linker
    // drops unless they are registered by name (the window icon was missing without this).
    Q_INIT_RESOURCE(vitrine);
    QApplication::setStyle(QStringLiteral("Fusion"));
    QApplication::setOrganizationName(QStringLiteral("Vitrine"));
    QApplication::setApplicationName(QStringLiteral("Vitrine"));
    QApplication::setApplicationVersion(QStringLiteral(VITRINE_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Explore, train and compare Vision Transformer embeddings."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("Compute threads (0 = all cores)."),
                               QStringLiteral("N"), QStringLiteral("0"));
    parser.addOption(threads);
    QCommandLineOption model(
        QStringLiteral("model"),
        QStringLiteral("Model to open: a bundled or downloaded model's name, a checkpoint file or a "
                       "Hugging Face model folder (default: the one used last)."),
        QStringLiteral("MODEL"));
    parser.addOption(model);
    QCommandLineOption embeddings(QStringLiteral("embeddings"),
                                  QStringLiteral("Embeddings file to open as the map (.npy memory-mapped, with its "
                                                 "rows.tsv), instead of a folder of images."),
                                  QStringLiteral("FILE"));
    parser.addOption(embeddings);
    parser.addPositionalArgument(QStringLiteral("folder"),
                                 QStringLiteral("Data set folder to open (default: the demo photos)."));
    parser.process(app);
    vitrine::core::setComputeThreads(parser.value(threads).toInt());

    // VITRINE_TIMING=1: timings for bench/ on stderr, and every time the event loop could not
    // run for more than 50 ms (work on the GUI thread), with when it happened.
    QElapsedTimer clock;
    clock.start();
    QTimer watchdog;
    qint64 lastTick = 0;
    if (qEnvironmentVariableIsSet("VITRINE_TIMING")) {
        watchdog.setInterval(10);
        QObject::connect(&watchdog, &QTimer::timeout, [&] {
            const qint64 now = clock.elapsed();
            if (now - lastTick > 60)
                std::fprintf(stderr, "vitrine-timing: event loop blocked %lld ms, until %.1f s after start\n",
                             static_cast<long long>(now - lastTick - 10), double(now) / 1000.0);
            lastTick = now;
        });
        watchdog.start();
    }

    vitrine::ui::MainWindow window;
    window.show();
    if (parser.isSet(model))
        window.workspace()->setModel(parser.value(model));
    if (parser.isSet(embeddings)) {
        window.openEmbeddings(parser.value(embeddings));
        return app.exec();
    }
    const QStringList args = parser.positionalArguments();
    const QString folder = args.isEmpty() ? vitrine::ui::demoDataDir() : args.front();
    if (!folder.isEmpty())
        window.openFolder(folder);
    return app.exec();
}
