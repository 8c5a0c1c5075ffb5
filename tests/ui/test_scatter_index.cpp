// ui/scatter_index: the map's point index and selection tools without a widget. Hover and
// click reach the nearest visible point within the pick radius; a rectangle or a lasso
// selects exactly the visible points inside it (as QPolygonF::containsPoint decides);
// hidden categories, filtered points and points without a position are never reached.
#include "ui/scatter_index.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

using vitrine::ui::MapTransform;
using vitrine::ui::ScatterIndex;

namespace {
// 10 widget pixels per data unit, data (0, 0) at the centre of a 200 x 200 widget.
const MapTransform kView{QPointF(0, 0), 10.0, QSizeF(200, 200)};

QVector<QPointF> randomPoints(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> cluster(0.0, 3.0);
    QVector<QPointF> out(n);
    for (auto& p : out)
        p = QPointF(cluster(rng), cluster(rng));
    return out;
}

/// A star with `spikes` points around `centre` (widget pixels): concave, so a bounding-box
/// test would select too much.
QPolygonF star(QPointF centre, double outer, double inner, int spikes) {
    QPolygonF poly;
    for (int k = 0; k < 2 * spikes; ++k) {
        const double a = std::numbers::pi * k / spikes, r = (k % 2) ? inner : outer;
        poly << centre + QPointF(r * std::cos(a), r * std::sin(a));
    }
    return poly;
}

/// Index with every third point in hidden category 2 and every fifth filtered out.
ScatterIndex indexWithHidden(const QVector<QPointF>& pos) {
    ScatterIndex index;
    index.setPositions(pos);
    QVector<int> category(pos.size());
    QVector<bool> shown(pos.size(), true);
    for (int i = 0; i < pos.size(); ++i) {
        category[i] = i % 3 == 0 ? 2 : i % 2;
        shown[i] = i % 5 != 0;
    }
    index.setCategories(category);
    index.setCategoryVisible(2, false);
    index.setPointFilter(shown);
    return index;
}
bool hiddenByConstruction(int i) { return i % 3 == 0 || i % 5 == 0; }

/// A selection compared point by point: the failure counts the points selected that should
/// not be and those missed, instead of printing two sets of thousands.
void checkSameSelection(const QSet<int>& selected, const QSet<int>& expected) {
    const QSet<int> selectedWrongly = selected - expected, missed = expected - selected;
    INFO(selectedWrongly.size() << " point(s) selected that should not be, " << missed.size() << " missed");
    CHECK(selectedWrongly.empty());
    CHECK(missed.empty());
}
} // namespace

TEST_CASE("the point under the cursor is the nearest within the pick radius", "[scatter_index]") {
    ScatterIndex index;
    index.setPositions({QPointF(0, 0), QPointF(1, 0), QPointF(5, 5)});
    const auto at = [&](double x, double y, double radius = 8.0) {
        return index.pointAt(kView.toWidget(QPointF(x, y)), radius, kView);
    };
    CHECK(at(0.3, 0) == 0);
    CHECK(at(0.6, 0) == 1);
    CHECK(at(5, 5.5) == 2);
    CHECK(at(0, 0.79) == 0);    // 7.9 px away
    CHECK(at(0, 0.81) == -1);   // 8.1 px away
    CHECK(at(0, 0.81, 9) == 0); // a larger radius reaches it
    CHECK(at(3, 3) == -1);
    CHECK(at(-50, 80) == -1); // far outside the data's bounds
}

TEST_CASE("hidden categories, filtered points and points without a position are never hit", "[scatter_index]") {
    ScatterIndex index;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    index.setPositions({QPointF(0, 0), QPointF(0.4, 0), QPointF(nan, nan), QPointF(2, 0)});
    index.setCategories({0, 1, 0, 0});
    const QPointF near0 = kView.toWidget(QPointF(0, 0));
    REQUIRE(index.pointAt(near0, 8, kView) == 0);

    index.setCategoryVisible(0, false);
    CHECK(index.isHidden(0));
    CHECK(index.pointAt(near0, 8, kView) == 1); // 4 px away, the nearest visible one
    index.setPointFilter({true, false, true, true});
    CHECK(index.pointAt(near0, 8, kView) == -1);
    CHECK(index.pointsInRect(QRectF(0, 0, 200, 200), kView).isEmpty());

    index.setCategoryVisible(0, true);
    CHECK(index.pointAt(near0, 8, kView) == 0);
    CHECK(index.pointsInRect(QRectF(0, 0, 200, 200), kView) == QSet<int>{0, 3}); // not the NaN one
    index.setPointFilter({});
    CHECK(index.pointsInRect(QRectF(0, 0, 200, 200), kView) == QSet<int>{0, 1, 3});
}

TEST_CASE("a lasso selects exactly the visible points inside the polygon", "[scatter_index]") {
    const QVector<QPointF> pos = randomPoints(20000, 7);
    ScatterIndex index = indexWithHidden(pos);
    const QPolygonF lasso = star(QPointF(100, 100), 80, 25, 7);
    QSet<int> expected;
    for (int i = 0; i < pos.size(); ++i)
        if (!hiddenByConstruction(i) && lasso.containsPoint(kView.toWidget(pos[i]), Qt::OddEvenFill))
            expected.insert(i);
    REQUIRE(expected.size() > 1000); // the star holds many points, and leaves many out
    REQUIRE(expected.size() < pos.size() / 2);
    checkSameSelection(index.pointsInLasso(lasso, kView), expected);
    CHECK(index.pointsInLasso(QPolygonF{QPointF(10, 10), QPointF(190, 190)}, kView).empty()); // a line
}

TEST_CASE("a rectangle selects exactly the visible points inside it, dragged either way", "[scatter_index]") {
    const QVector<QPointF> pos = randomPoints(20000, 11);
    ScatterIndex index = indexWithHidden(pos);
    const QRectF rect(QPointF(60, 70), QPointF(130, 150));
    QSet<int> expected;
    for (int i = 0; i < pos.size(); ++i)
        if (!hiddenByConstruction(i) && rect.contains(kView.toWidget(pos[i])))
            expected.insert(i);
    REQUIRE(expected.size() > 500);
    checkSameSelection(index.pointsInRect(rect, kView), expected);
    checkSameSelection(index.pointsInRect(QRectF(rect.bottomRight(), rect.topLeft()), kView), expected);
}

TEST_CASE("at 2 x 10^5 points hit-tests and selections still agree with a plain scan", "[scatter_index]") {
    const int n = 200000;
    const QVector<QPointF> pos = randomPoints(n, 3);
    ScatterIndex index = indexWithHidden(pos);
    REQUIRE(index.cellPoints().size() == n);
    // Zoomed in on part of the map, so the pick radius spans a few grid cells or less.
    const MapTransform view{QPointF(1.5, -0.5), 400.0, QSizeF(800, 600)};
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> wx(0, 800), wy(0, 600);
    for (int q = 0; q < 300; ++q) {
        const QPointF cursor(wx(rng), wy(rng));
        const QPointF d = view.toData(cursor);
        const double r = 8.0 / view.scale;
        double best = r * r;
        int expected = -1;
        for (int i = 0; i < n; ++i) {
            if (hiddenByConstruction(i))
                continue;
            const QPointF v = pos[i] - d;
            const double dd = v.x() * v.x() + v.y() * v.y();
            if (dd <= best)
                best = dd, expected = i;
        }
        INFO("cursor " << cursor.x() << ", " << cursor.y());
        CHECK(index.pointAt(cursor, 8.0, view) == expected);
    }
    const QPolygonF lasso = star(QPointF(400, 300), 280, 90, 5);
    QSet<int> expected;
    for (int i = 0; i < n; ++i)
        if (!hiddenByConstruction(i) && lasso.containsPoint(view.toWidget(pos[i]), Qt::OddEvenFill))
            expected.insert(i);
    REQUIRE(expected.size() > 300);
    checkSameSelection(index.pointsInLasso(lasso, view), expected);
    // The cells overlapping a rectangle hold at least the points inside it.
    const QRectF dataRect(QPointF(-1, -1), QPointF(1, 1));
    qsizetype inside = 0;
    for (const QPointF& p : pos)
        inside += dataRect.contains(p);
    CHECK(index.countInCells(dataRect) >= inside);
    CHECK(index.countInCells(dataRect) < n);
}
