// Interactive training, offscreen: start on the demo set, receive progress, pause,
// resume, stop, find the checkpoint, see the map update; and closing the window or opening
// another data set while training stops it cleanly, without the GUI thread waiting for it.
#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <filesystem>

#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/job_runner.h"
#include "ui/line_chart.h"
#include "ui/main_window.h"
#include "ui/training_controller.h"
#include "ui/training_panel.h"
#include "ui/workspace.h"

using namespace vitrine::ui;

namespace {

struct Env {
    QTemporaryDir dir;
    Env() {
        qputenv("XDG_CONFIG_HOME", (dir.path() + "/config").toUtf8());
        qputenv("XDG_DATA_HOME", (dir.path() + "/data").toUtf8());
    }
};

TrainingSettings quickSettings() {
    TrainingSettings s;
    s.model = QStringLiteral("vit-micro");
    s.imageSize = 64;
    s.epochs = 3;
    s.classesPerBatch = 4;
    s.imagesPerClass = 4;
    s.liveEverySteps = 3;
    s.learningRate = 3e-4;
    return s;
}

/// Largest gap between ticks of a 10 ms timer while `until` is false: the event-loop stall.
qint64 runMeasuringStall(const std::function<bool()>& until, int timeoutMs) {
    QElapsedTimer clock, total;
    clock.start();
    total.start();
    qint64 worst = 0;
    QTimer tick;
    tick.setInterval(10);
    QObject::connect(&tick, &QTimer::timeout, [&] { worst = std::max(worst, clock.restart()); });
    tick.start();
    while (!until() && total.elapsed() < timeoutMs)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
    return worst;
}

} // namespace

TEST_CASE("training from the panel: progress, pause, resume, stop, checkpoint, live map", "[ui][training][threads]") {
    Env env;
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.openFolder(VITRINE_TEST_DATA);
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    REQUIRE(w.workspace()->waitForIdle(240000));
    w.datasetPanel()->levelBox()->setCurrentIndex(0); // species: cat vs dog
    QCoreApplication::processEvents();

    TrainingPanel* panel = w.trainingPanel();
    TrainingController* trainer = w.trainingController();
    panel->setSettings(quickSettings());
    QSignalSpy steps(trainer, &TrainingController::stepDone);
    QSignalSpy snapshots(trainer, &TrainingController::snapshotPublished);
    QSignalSpy layouts(w.workspace(), &Workspace::layoutChanged);
    QSignalSpy finished(trainer, &TrainingController::finished);

    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    REQUIRE(trainer->running());
    CHECK_FALSE(panel->startButton()->isEnabled());

    const qint64 stall = runMeasuringStall([&] { return steps.count() >= 4; }, 300000);
    REQUIRE(steps.count() >= 4);
    WARN("largest event-loop stall while training: " << stall << " ms");
    CHECK(panel->lossChart()->points(0).size() >= 4);

    QTest::mouseClick(panel->pauseButton(), Qt::LeftButton);
    CHECK(trainer->paused());
    // The step in flight still lands; after that, nothing until Resume.
    REQUIRE(vitrine::testutil::waitFor([&] { return trainer->holding(); }, 120000));
    QCoreApplication::processEvents(); // the last step's queued signal
    const int pausedAt = steps.count();
    // Held means no step for as long as we look (a step takes about a second here).
    CHECK_FALSE(vitrine::testutil::waitFor([&] { return steps.count() > pausedAt; }, 2000));
    CHECK(steps.count() == pausedAt);
    CHECK(trainer->paused());

    QTest::mouseClick(panel->pauseButton(), Qt::LeftButton); // resume
    REQUIRE(vitrine::testutil::waitFor([&] { return steps.count() > pausedAt; }, 120000));

    // The map re-projects from a live snapshot at least once.
    REQUIRE(vitrine::testutil::waitFor([&] { return snapshots.count() >= 1; }, 120000));
    REQUIRE(vitrine::testutil::waitFor([&] { return layouts.count() >= 1; }, 240000));
    CHECK(!w.workspace()->history().empty());

    QTest::mouseClick(panel->stopButton(), Qt::LeftButton);
    REQUIRE(vitrine::testutil::waitFor([&] { return !trainer->running(); }, 120000));
    REQUIRE(vitrine::testutil::waitFor([&] { return finished.count() == 1; }, 10000));
    CHECK(panel->startButton()->isEnabled());
    REQUIRE_FALSE(trainer->lastCheckpoint().isEmpty());
    CHECK(std::filesystem::exists(trainer->lastCheckpoint().toStdString()));
    CHECK(panel->checkpointList()->count() >= 1);
    REQUIRE(w.workspace()->waitForIdle(240000));
}

TEST_CASE("closing the window mid-training stops it cleanly with a checkpoint", "[ui][training][threads]") {
    Env env;
    auto* w = new MainWindow;
    w->show();
    w->openFolder(VITRINE_TEST_DATA);
    REQUIRE(w->scanRunner()->waitForIdle(60000));
    TrainingPanel* panel = w->trainingPanel();
    TrainingController* trainer = w->trainingController();
    auto s = quickSettings();
    s.epochs = 50;
    panel->setSettings(s);
    QSignalSpy steps(trainer, &TrainingController::stepDone);
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    REQUIRE(vitrine::testutil::waitFor([&] { return steps.count() >= 2; }, 300000));

    w->setAutoAnswer(QMessageBox::No);
    CHECK_FALSE(w->close()); // declined: keeps training
    CHECK(trainer->running());

    w->setAutoAnswer(QMessageBox::Yes);
    // Not closed yet: the run was asked to stop and close() returned without waiting for it
    // (its end reaches the GUI thread only through the event loop, not processed since).
    CHECK_FALSE(w->close());
    CHECK(trainer->running());
    CHECK(trainer->stopping());
    CHECK(w->isVisible());
    // The window closes itself once the run has ended and written its checkpoint.
    REQUIRE(vitrine::testutil::waitFor([&] { return !w->isVisible(); }, 120000));
    CHECK_FALSE(trainer->running());
    CHECK_FALSE(trainer->lastCheckpoint().isEmpty());
    delete w;
}

TEST_CASE("opening another data set mid-training stops the run without waiting, then opens it",
          "[ui][training][threads]") {
    Env env;
    MainWindow w;
    w.show();
    w.openFolder(VITRINE_TEST_DATA);
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    TrainingController* trainer = w.trainingController();
    auto s = quickSettings();
    s.epochs = 50;
    w.trainingPanel()->setSettings(s);
    QSignalSpy steps(trainer, &TrainingController::stepDone);
    QSignalSpy idle(trainer, &TrainingController::idle);
    QTest::mouseClick(w.trainingPanel()->startButton(), Qt::LeftButton);
    REQUIRE(vitrine::testutil::waitFor([&] { return steps.count() >= 2; }, 300000));

    const QString cats = QStringLiteral(VITRINE_TEST_DATA "/cat");
    w.setAutoAnswer(QMessageBox::Yes);
    w.openFolder(cats);
    // Returned at once: the run is stopping on its thread, the old data set still shown.
    CHECK(trainer->running());
    CHECK(trainer->stopping());
    CHECK_FALSE(w.windowTitle().startsWith(QStringLiteral("cat ")));
    // A second request while it stops asks nothing and is the one that runs.
    w.setAutoAnswer(QMessageBox::No);
    w.openFolder(cats);
    CHECK(trainer->stopping());

    // The event loop keeps turning while the run stops and the folder then opens.
    const qint64 stall = runMeasuringStall(
        [&] { return !trainer->running() && !w.scanRunner()->busy() && w.windowTitle().startsWith("cat "); }, 120000);
    REQUIRE(w.windowTitle().startsWith(QStringLiteral("cat ")));
    WARN("largest event-loop stall while stopping: " << stall << " ms");
    CHECK(idle.count() == 1);
    CHECK_FALSE(trainer->lastCheckpoint().isEmpty());
    CHECK(w.datasetModel()->rowCount() > 0);
}
