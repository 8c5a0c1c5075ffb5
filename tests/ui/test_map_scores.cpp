// Colouring the map by per-image attention statistics, computed on demand for every image
// with the real bundled model (progress shown, Cancel honoured), and the range filter that
// hides the points whose score lies outside the chosen interval.
#include <catch2/catch.hpp>

#include "../support/demo_photos.h"
#include "../support/wait_for.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QListWidget>
#include <QProgressBar>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/data/dataset.h"
#include "ui/dataset_model.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/scatter_view.h"
#include "ui/thumbnail_cache.h"
#include "ui/workspace.h"

using namespace vitrine::ui;
using vitrine::testutil::waitFor;
namespace fs = std::filesystem;

TEST_CASE("the map is coloured by attention statistics computed for every image, and filtered by a score range",
          "[ui][map-scores]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    QTemporaryDir tmp;
    REQUIRE(tmp.isValid());
    const fs::path root = vitrine::testutil::makePets(fs::path(tmp.path().toStdString()), 3);
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.openFolder(QString::fromStdString(root.string()));
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    REQUIRE(w.workspace()->waitForIdle(240000));
    REQUIRE(w.workspace()->hasEmbeddings());
    const int n = w.datasetModel()->rowCount();
    REQUIRE(n == 24);

    MapPanel* map = w.mapPanel();
    ScatterView* view = map->view();
    QComboBox* colour = map->colourBy();
    const QStringList names = MapPanel::attentionScoreNames();
    REQUIRE(names.size() == 3);
    for (const QString& name : names)
        REQUIRE(colour->findData(name) >= 0);

    // Choosing one computes all three on the statistics worker, with a progress bar meanwhile.
    colour->setCurrentIndex(colour->findData(names[0]));
    REQUIRE(
        waitFor([&] { return w.workspace()->statisticsRunner()->busy() || map->scores(names[0]).size() == n; }, 5000));
    REQUIRE(waitFor([&] { return !w.workspace()->statisticsRunner()->busy(); }, 120000));
    for (const QString& name : names) {
        INFO(name.toStdString());
        REQUIRE(map->scores(name).size() == n);
    }
    CHECK(map->currentScoreName() == names[0]);
    const QVector<float> entropy = map->scores(names[0]);
    const QVector<float> highNorm = map->scores(names[2]);
    for (int r = 0; r < n; ++r) {
        CHECK(entropy[r] > 0.0f);
        CHECK(entropy[r] < 1.0f);
        CHECK(highNorm[r] >= 0.0f);
        CHECK(highNorm[r] == std::round(highNorm[r]));
    }
    const auto [lo, hi] = std::minmax_element(entropy.begin(), entropy.end());
    CHECK(*hi - *lo > 0.01f); // the photos differ
    // Five bands covering every image, coloured from the scores.
    REQUIRE(map->legend()->count() == 5);
    int counted = 0;
    for (int i = 0; i < 5; ++i) {
        const QString text = map->legend()->item(i)->text();
        counted += text.mid(text.lastIndexOf('(') + 1).chopped(1).toInt();
    }
    CHECK(counted == n);
    CHECK(view->categories()[int(lo - entropy.begin())] == 0);
    CHECK(view->categories()[int(hi - entropy.begin())] == 4);

    // The range filter: only images whose entropy is at least the median stay on the map,
    // and a filtered point can neither be hovered nor picked.
    CHECK(map->rangeFrom()->isVisibleTo(map));
    CHECK(map->shownPointCount() == n);
    QVector<float> sorted = entropy;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[n / 2];
    map->rangeFrom()->setValue(median);
    const double from = map->rangeFrom()->value(); // rounded to the box's decimals
    const double tolerance = 0.5 * std::pow(10.0, -map->rangeFrom()->decimals());
    int expected = 0;
    for (float v : entropy)
        expected += v >= from - tolerance ? 1 : 0;
    CHECK(map->shownPointCount() == expected);
    CHECK(expected < n);
    CHECK(expected > 0);
    const int below = int(lo - entropy.begin());
    CHECK(view->isHidden(below));
    view->fitToData();
    CHECK(view->pointAt(view->toWidget(w.workspace()->layout()[below]), 0.5) != below);
    CHECK_FALSE(view->isHidden(int(hi - entropy.begin())));
    // Switching to another score resets the range to everything.
    colour->setCurrentIndex(colour->findData(names[1]));
    CHECK(map->shownPointCount() == n);
    CHECK(map->currentScoreName() == names[1]);
    // Back to classes: no range filter.
    colour->setCurrentIndex(0);
    CHECK_FALSE(map->rangeFrom()->isVisibleTo(map));
    CHECK(view->pointFilter().isEmpty());

    // A new model (or data set) drops the statistics; choosing one again computes them again,
    // and Cancel stops that run and leaves the map usable.
    w.workspace()->setModel(QStringLiteral("vit-micro-pets"));
    REQUIRE(w.workspace()->waitForIdle(240000));
    CHECK(map->scores(names[0]).isEmpty());
    colour->setCurrentIndex(colour->findData(names[2]));
    REQUIRE(waitFor([&] { return w.workspace()->statisticsRunner()->busy(); }, 5000));
    CHECK(map->statisticsProgress()->isVisibleTo(map));
    w.workspace()->statisticsRunner()->cancel();
    REQUIRE(waitFor([&] { return !w.workspace()->statisticsRunner()->busy(); }, 60000));
    CHECK_FALSE(map->statisticsProgress()->isVisibleTo(map));
    CHECK(map->scores(names[2]).isEmpty());
    CHECK(map->shownPointCount() == n);
}

TEST_CASE("the map recolours by a score and filters a range at 100,000 points", "[ui][map-scores][map]") {
    QTemporaryDir settings;
    qputenv("XDG_CONFIG_HOME", settings.path().toUtf8());
    ThumbnailCache thumbs;
    DatasetModel dataset(&thumbs);
    vitrine::core::data::Dataset data;
    data.root = "/nonexistent/pets";
    const int n = 100000;
    data.samples.reserve(n);
    for (int i = 0; i < n; ++i) {
        vitrine::core::data::Sample s;
        const std::string label = (i % 2 ? "dog/breed" : "cat/breed") + std::to_string(i % 37);
        s.relativePath = label + "/" + std::to_string(i) + ".jpg";
        s.path = data.root / s.relativePath;
        s.labels = {label.substr(0, 3), label.substr(4)};
        data.samples.push_back(std::move(s));
    }
    std::sort(data.samples.begin(), data.samples.end(),
              [](const auto& a, const auto& b) { return a.relativePath < b.relativePath; });
    dataset.setDataset(std::move(data));
    Workspace workspace(&dataset);
    MapPanel map(&workspace, &dataset, &thumbs);
    map.resize(1000, 700);
    std::mt19937 rng(3);
    std::normal_distribution<double> g(0.0, 1.0);
    QVector<QPointF> pos(n);
    QVector<float> score(n);
    for (int i = 0; i < n; ++i) {
        pos[i] = QPointF(g(rng), g(rng));
        score[i] = float(std::abs(pos[i].x())); // distance from the vertical axis
    }
    map.view()->setPositions(pos);
    map.refreshColours(); // as a new layout does: hover texts and paths for every point
    map.setRowScores(QStringLiteral("distance"), score);

    QElapsedTimer clock;
    clock.start();
    map.showScores(QStringLiteral("distance"));
    const double recolourMs = clock.nsecsElapsed() / 1e6;
    REQUIRE(map.currentScoreName() == "distance");
    REQUIRE(map.view()->categories().size() == n);
    clock.restart();
    map.rangeTo()->setValue(1.0);
    const double filterMs = clock.nsecsElapsed() / 1e6;
    int expected = 0;
    const double tolerance = 0.5 * std::pow(10.0, -map.rangeTo()->decimals());
    for (float v : score)
        expected += v <= map.rangeTo()->value() + tolerance ? 1 : 0;
    CHECK(map.shownPointCount() == expected);
    CHECK(expected > n / 2);
    CHECK(expected < n);
    clock.restart();
    map.view()->renderToImage();
    const double frameMs = clock.nsecsElapsed() / 1e6;
    WARN("100,000 points: recolour by a score " << recolourMs << " ms, range filter " << filterMs << " ms, frame "
                                                << frameMs << " ms");
}
