// The explorer panels with the real engine, offscreen: the map computes from the demo
// photos, neighbours follow the selection, the Inspector's sliders change the heatmap,
// and the scatter view handles 100,000 points.
#include <catch2/catch.hpp>

#include "../support/wait_for.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QListView>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <filesystem>
#include <random>

#include "core/io/npy.h"
#include "ui/dataset_model.h"
#include "ui/dataset_panel.h"
#include "ui/export_dialog.h"
#include "ui/image_canvas.h"
#include "ui/inspector_panel.h"
#include "ui/job_runner.h"
#include "ui/main_window.h"
#include "ui/map_panel.h"
#include "ui/neighbours_panel.h"
#include "ui/scatter_view.h"
#include "ui/workspace.h"

using namespace vitrine::ui;
namespace fs = std::filesystem;

namespace {

struct Env {
    QTemporaryDir settings;
    Env() { qputenv("XDG_CONFIG_HOME", settings.path().toUtf8()); }
};

void openDemo(MainWindow& w) {
    w.openFolder(VITRINE_TEST_DATA);
    REQUIRE(w.scanRunner()->waitForIdle(60000));
    QCoreApplication::processEvents();
    REQUIRE(w.datasetModel()->rowCount() == 296);
}

double imageDifference(const QImage& a, const QImage& b) {
    if (a.size() != b.size())
        return 1e9;
    QImage x = a.convertToFormat(QImage::Format_RGB32), y = b.convertToFormat(QImage::Format_RGB32);
    double sum = 0;
    for (int r = 0; r < x.height(); ++r) {
        auto* p = reinterpret_cast<const QRgb*>(x.constScanLine(r));
        auto* q = reinterpret_cast<const QRgb*>(y.constScanLine(r));
        for (int c = 0; c < x.width(); ++c)
            sum += std::abs(qRed(p[c]) - qRed(q[c])) + std::abs(qGreen(p[c]) - qGreen(q[c])) +
                   std::abs(qBlue(p[c]) - qBlue(q[c]));
    }
    return sum / (3.0 * x.width() * x.height());
}

} // namespace

TEST_CASE("opening the demo set computes the map, neighbours and the Inspector", "[ui][explorer]") {
    Env env;
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    openDemo(w);
    REQUIRE(w.workspace()->waitForIdle(240000));
    CHECK(w.workspace()->embeddings().rows == 296);
    CHECK(w.workspace()->layout().size() == 296);
    CHECK(std::isfinite(w.workspace()->layout()[0].x()));
    CHECK(w.mapPanel()->view()->pointCount() == 296);

    // The first image is selected: neighbours and the Inspector follow it.
    REQUIRE(vitrine::testutil::waitFor(
        [&] { return w.neighboursPanel()->model()->rowCount() == w.neighboursPanel()->k(); }, 60000));
    const auto& items = w.neighboursPanel()->model()->items();
    CHECK(items.front().row != 0);
    CHECK(std::is_sorted(items.begin(), items.end(),
                         [](const NeighbourItem& a, const NeighbourItem& b) { return a.distance < b.distance; }));
    REQUIRE(vitrine::testutil::waitFor([&] { return !w.inspectorPanel()->currentImage().isNull(); }, 60000));

    // Clicking a point on the map selects that image everywhere.
    auto* view = w.mapPanel()->view();
    const int target = 150;
    QPointF at = view->toWidget(w.workspace()->layout()[target]);
    REQUIRE(view->rect().contains(at.toPoint()));
    int hit = view->pointAt(at);
    REQUIRE(hit >= 0);
    QTest::mouseClick(view, Qt::LeftButton, Qt::NoModifier, at.toPoint());
    CHECK(w.datasetPanel()->currentRow() == hit);
    REQUIRE(vitrine::testutil::waitFor([&] { return w.workspace()->lastInspectedRow() == hit; }, 10000));

    // Exporting writes NumPy data with a row per embedding.
    QTemporaryDir out;
    const QString npy = out.filePath("emb.npy");
    CHECK(ExportDialog::exportNow(w.workspace(), w.datasetModel(), "npy", npy).isEmpty());
    auto m = vitrine::core::io::readNpyMatrix(npy.toStdString());
    CHECK(m.rows == 296);
    CHECK(m.cols == w.workspace()->embeddings().cols);
    CHECK_FALSE(ExportDialog::exportNow(w.workspace(), w.datasetModel(), "npy", out.path()).isEmpty());
}

TEST_CASE("the Inspector's sliders change the rendered heatmap instantly", "[ui][inspector]") {
    Env env;
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    openDemo(w);
    w.datasetPanel()->selectRow(5);
    REQUIRE(w.workspace()->waitForIdle(240000));
    InspectorPanel* ins = w.inspectorPanel();
    REQUIRE(vitrine::testutil::waitFor([&] { return !ins->currentImage().isNull(); }, 60000));
    ins->setRollout(false); // rollout is on by default; the checks below start from plain attention

    ins->setLayer(0);
    QImage first = ins->currentImage();
    QElapsedTimer t;
    t.start();
    ins->setLayer(ins->layerSlider()->maximum() - 1);
    const qint64 sliderMs = t.elapsed();
    QImage last = ins->currentImage();
    CHECK(imageDifference(first, last) > 1.0);
    INFO("layer change re-render took " << sliderMs << " ms");

    ins->setHead(3); // a single head
    CHECK(imageDifference(last, ins->currentImage()) > 0.5);
    QImage head = ins->currentImage();
    ins->setRollout(true);
    CHECK(imageDifference(head, ins->currentImage()) > 0.5);
    ins->setRollout(false);
    ins->setMask(true);
    CHECK(imageDifference(head, ins->currentImage()) > 0.5);
    ins->setMask(false);

    // Clicking a patch switches to that patch's attention row.
    QImage cls = ins->currentImage();
    ImageCanvas* canvas = ins->canvasA();
    QRectF r = canvas->imageRect();
    QTest::mouseClick(canvas, Qt::LeftButton, Qt::NoModifier,
                      (r.topLeft() + QPointF(r.width() * 0.3, r.height() * 0.6)).toPoint());
    CHECK(imageDifference(cls, ins->currentImage()) > 0.5);

    ins->setView(InspectorPanel::View::AllHeads);
    CHECK(ins->currentImage().width() > cls.width());
    ins->setView(InspectorPanel::View::PatchPca);
    CHECK_FALSE(ins->currentImage().isNull());

    // Compare mode: two images side by side.
    w.workspace()->requestPairInspection(5, 200);
    REQUIRE(w.workspace()->waitForIdle(120000));
    QCoreApplication::processEvents();
    CHECK(ins->compareMode() == InspectorPanel::Compare::Images);
    CHECK_FALSE(ins->canvasB()->image().isNull());

    QTemporaryDir out;
    CHECK(ins->saveSnapshot(out.filePath("view.png")));
    CHECK(QImage(out.filePath("view.png")).width() > 0);
}

TEST_CASE("the map stays interactive with 100,000 points", "[ui][map]") {
    ScatterView view;
    view.resize(1000, 700);
    std::mt19937 rng(7);
    std::normal_distribution<double> g(0.0, 1.0);
    const int n = 100000;
    QVector<QPointF> pos(n);
    QVector<int> cats(n);
    for (int i = 0; i < n; ++i) {
        int c = i % 10;
        pos[i] = QPointF(c * 6 + g(rng), (c % 3) * 6 + g(rng));
        cats[i] = c;
    }
    QStringList names;
    for (int c = 0; c < 10; ++c)
        names << QString("class %1").arg(c);
    view.setPositions(pos);
    view.setCategories(cats, names, categoricalPalette(10));
    double worst = 0, total = 0;
    const int frames = 20;
    for (int f = 0; f < frames; ++f) {
        view.renderToImage();
        worst = std::max(worst, view.lastFrameMs());
        total += view.lastFrameMs();
    }
    WARN("100,000-point frame: mean " << total / frames << " ms, worst " << worst << " ms");
    // Hover lookups use the grid index, not a scan.
    QElapsedTimer t;
    t.start();
    int found = 0;
    for (int i = 0; i < 1000; ++i)
        found += view.pointAt(view.toWidget(pos[i * 97])) >= 0 ? 1 : 0;
    CHECK(found == 1000);
    WARN("1,000 hover lookups: " << t.elapsed() << " ms");
    // Hiding a class removes its points from hit-testing.
    view.setCategoryVisible(0, false);
    CHECK(view.pointAt(view.toWidget(pos[0]), 0.5) != 0);
    // Rectangle selection over the whole view selects every visible point.
    view.show();
    QTest::mousePress(&view, Qt::LeftButton, Qt::ShiftModifier, QPoint(1, 1));
    QTest::mouseMove(&view, QPoint(998, 698));
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::ShiftModifier, QPoint(998, 698));
    CHECK(view.selection().size() == n - n / 10);
}

namespace {

// Ten Gaussian clusters (standard deviation 1) on a 5 x 2 grid, 10 apart, one category each.
QPointF clusterCentre(int c) { return QPointF((c % 5) * 10.0, (c / 5) * 10.0); }

bool near(QRgb a, QColor b, int tolerance) {
    return std::abs(qRed(a) - b.red()) <= tolerance && std::abs(qGreen(a) - b.green()) <= tolerance &&
           std::abs(qBlue(a) - b.blue()) <= tolerance;
}

struct FrameTimes {
    double mean = 0, worst = 0;
};

template <class Step> FrameTimes timeFrames(ScatterView& view, int frames, Step step) {
    FrameTimes t;
    for (int f = 0; f < frames; ++f) {
        step(f);
        view.renderToImage();
        t.worst = std::max(t.worst, view.lastFrameMs());
        t.mean += view.lastFrameMs() / frames;
    }
    return t;
}

} // namespace

TEST_CASE("the map draws 1,000,000 points as a density raster and stays interactive", "[ui][map]") {
    ScatterView view;
    view.resize(1000, 700);
    std::mt19937 rng(11);
    std::normal_distribution<double> g(0.0, 1.0);
    const int n = 1000000;
    QVector<QPointF> pos(n);
    QVector<int> cats(n);
    for (int i = 0; i < n; ++i) {
        const int c = i % 10;
        pos[i] = clusterCentre(c) + QPointF(g(rng), g(rng));
        cats[i] = c;
    }
    QStringList names;
    for (int c = 0; c < 10; ++c)
        names << QString("class %1").arg(c);
    const QVector<QColor> colours = categoricalPalette(10);
    QElapsedTimer clock;
    clock.start();
    view.setPositions(pos);
    view.setCategories(cats, names, colours);
    const qint64 setMs = clock.elapsed();
    view.renderToImage();
    WARN("1,000,000 points: setPositions + setCategories " << setMs << " ms, first frame (builds the raster) "
                                                           << view.lastFrameMs() << " ms");
    const QColor base = view.palette().color(QPalette::Base);

    // Zoomed out: the raster, with each cluster's colour at its centre and nothing between them.
    QImage img = view.renderToImage();
    CHECK(view.lastFrameWasRaster());
    const QPointF empty = clusterCentre(0) + QPointF(5, 5); // 7 standard deviations from every centre
    for (int c = 0; c < 10; ++c)
        CHECK(near(img.pixel(view.toWidget(clusterCentre(c)).toPoint()), colours[c], 40));
    CHECK(near(img.pixel(view.toWidget(empty).toPoint()), base, 0));
    const FrameTimes out = timeFrames(view, 20, [](int) {});
    const QRectF all = view.visibleDataRect();
    const FrameTimes panOut = timeFrames(
        view, 20, [&](int f) { view.showDataRect(all.translated(0.4 * (f % 10 - 5), 0.3 * (f % 7 - 3))); });

    // Hidden categories and filtered points leave the raster too.
    view.setCategoryVisible(3, false);
    img = view.renderToImage();
    CHECK(near(img.pixel(view.toWidget(clusterCentre(3)).toPoint()), base, 0));
    CHECK(near(img.pixel(view.toWidget(clusterCentre(4)).toPoint()), colours[4], 40));
    view.setCategoryVisible(3, true);
    QVector<bool> shown(n, true);
    for (int i = 7; i < n; i += 10)
        shown[i] = false;
    view.setPointFilter(shown);
    img = view.renderToImage();
    CHECK(near(img.pixel(view.toWidget(clusterCentre(7)).toPoint()), base, 0));
    CHECK(near(img.pixel(view.toWidget(clusterCentre(3)).toPoint()), colours[3], 40));
    view.setPointFilter({});

    // Mid zoom (one cluster and its neighbours) and zoomed in (a few thousand points):
    // the points of the cells in view, each at its own place in its own colour.
    const QRectF mid(clusterCentre(2) - QPointF(8, 6), QSizeF(16, 12));
    view.showDataRect(mid);
    const FrameTimes midT = timeFrames(view, 20, [](int) {});
    const bool midRaster = view.lastFrameWasRaster();
    const FrameTimes panMid = timeFrames(
        view, 20, [&](int f) { view.showDataRect(mid.translated(0.3 * (f % 10 - 5), 0.2 * (f % 7 - 3))); });
    const QRectF close(clusterCentre(2) - QPointF(0.5, 0.35), QSizeF(1.0, 0.7));
    view.showDataRect(close);
    img = view.renderToImage();
    CHECK_FALSE(view.lastFrameWasRaster());
    int probe = -1;
    for (int i = 2; i < n && probe < 0; i += 10)
        if (close.adjusted(0.2, 0.2, -0.2, -0.2).contains(pos[i]))
            probe = i;
    REQUIRE(probe >= 0);
    CHECK(near(img.pixel(view.toWidget(pos[probe]).toPoint()), colours[2], 0));
    const FrameTimes in = timeFrames(view, 20, [](int) {});
    const FrameTimes panIn = timeFrames(
        view, 20, [&](int f) { view.showDataRect(close.translated(0.05 * (f % 10 - 5), 0.03 * (f % 7 - 3))); });
    WARN("1,000,000-point frames (mean / worst ms): zoomed out "
         << out.mean << " / " << out.worst << ", panning zoomed out " << panOut.mean << " / " << panOut.worst
         << ", mid zoom (" << (midRaster ? "raster" : "points") << ") " << midT.mean << " / " << midT.worst
         << ", panning mid " << panMid.mean << " / " << panMid.worst << ", zoomed in " << in.mean << " / " << in.worst
         << ", panning zoomed in " << panIn.mean << " / " << panIn.worst);

    // Hover: the lookup and the frame it triggers, zoomed out.
    view.showDataRect(all);
    view.show();
    REQUIRE(QTest::qWaitForWindowExposed(&view));
    clock.restart();
    int found = 0;
    for (int i = 0; i < 1000; ++i)
        found += view.pointAt(view.toWidget(pos[i * 997])) >= 0 ? 1 : 0;
    const double lookupMs = clock.nsecsElapsed() / 1e6 / 1000;
    CHECK(found == 1000);
    QSignalSpy hovered(&view, &ScatterView::hovered);
    double moveMs = 0, hoverFrameMs = 0;
    for (int c = 0; c < 10; ++c) {
        clock.restart();
        QTest::mouseMove(&view, view.toWidget(clusterCentre(c)).toPoint());
        moveMs += clock.nsecsElapsed() / 1e6 / 10;
        view.renderToImage();
        hoverFrameMs += view.lastFrameMs() / 10;
    }
    CHECK(hovered.count() == 10);
    WARN("1,000,000-point hover: lookup " << lookupMs << " ms, mouse move (lookup and signal) " << moveMs
                                          << " ms + frame with the hover card " << hoverFrameMs << " ms (means)");

    // Lasso: a concave star around cluster 3 selects exactly the visible points inside it,
    // with category 4 hidden (its points never count).
    view.setCategoryVisible(4, false);
    view.renderToImage();
    WARN("1,000,000-point raster rebuilt after hiding a category: " << view.lastFrameMs() << " ms");
    QVector<QPoint> star;
    for (int k = 0; k < 48; ++k) {
        const double a = 2 * M_PI * k / 48, r = (k % 2 ? 2.0 : 4.5);
        star << view.toWidget(clusterCentre(3) + QPointF(r * std::cos(a), r * std::sin(a))).toPoint();
    }
    clock.restart();
    QTest::mousePress(&view, Qt::LeftButton, Qt::ControlModifier, star[0]);
    for (int k = 1; k < star.size(); ++k)
        QTest::mouseMove(&view, star[k]);
    const qint64 dragMs = clock.elapsed();
    clock.restart();
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::ControlModifier, star.back());
    const double lassoMs = clock.nsecsElapsed() / 1e6;
    QPolygonF polygon;
    for (const QPoint& p : star)
        polygon << QPointF(p);
    QSet<int> expected;
    for (int i = 0; i < n; ++i)
        if (!view.isHidden(i) && polygon.containsPoint(view.toWidget(pos[i]), Qt::OddEvenFill))
            expected.insert(i);
    CHECK(expected.size() > 50000);
    CHECK(view.selection().size() == expected.size());
    CHECK(view.selection() == expected);
    view.renderToImage();
    WARN("1,000,000-point lasso: " << lassoMs << " ms to select " << view.selection().size()
                                   << " points (47 drag moves " << dragMs << " ms), frame with the selection "
                                   << view.lastFrameMs() << " ms");
}
