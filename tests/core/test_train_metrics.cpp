#include <catch2/catch.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/train/metrics.h"

using namespace vitrine::core::train;

TEST_CASE("retrieval metrics match a hand-computed ranking", "[train][metrics]") {
    // Labels A A A B B; rankings chosen by hand (see the comments for the per-query values).
    std::vector<int> labels{0, 0, 0, 1, 1};
    std::vector<std::vector<int>> nb{
        {3, 1, 4, 2}, // R=2: P@1 0, RP 1/2, AP@R (1/2)(1/2) = 0.25, 3-NN {B,A,B} -> B wrong
        {0, 2, 3, 4}, // R=2: P@1 1, RP 1, AP 1, 3-NN A right
        {0, 3, 1, 4}, // R=2: P@1 1, RP 1/2, AP (1/2)(1/1) = 0.5, 3-NN {A,B,A} right
        {4, 0, 1, 2}, // R=1: P@1 1, RP 1, AP 1, 3-NN {B,A,A} -> A wrong
        {0, 3, 1, 2}, // R=1: P@1 0, RP 0, AP 0, 3-NN {A,B,A} wrong
    };
    auto m = retrievalMetricsFromRanking(nb, labels, 3);
    CHECK(m.queries == 5);
    CHECK(m.precisionAt1 == Approx(0.6));
    CHECK(m.rPrecision == Approx(0.6));
    CHECK(m.mapAtR == Approx(0.55));
    CHECK(m.knnAccuracy == Approx(0.4));
    // k = 2: ties go to the label of the nearer neighbour: q0 B, q1 A, q2 A, q3 B, q4 A.
    CHECK(retrievalMetricsFromRanking(nb, labels, 2).knnAccuracy == Approx(0.6));
}

TEST_CASE("rows of a singleton class are not scored for P@1 and MAP@R", "[train][metrics]") {
    std::vector<int> labels{0, 0, 1};
    std::vector<std::vector<int>> nb{{2, 1}, {0, 2}, {0, 1}};
    auto m = retrievalMetricsFromRanking(nb, labels, 1);
    CHECK(m.queries == 2);
    CHECK(m.precisionAt1 == Approx(0.5));
    CHECK(m.mapAtR == Approx(0.5));
    CHECK(m.knnAccuracy == Approx(1.0 / 3.0));
}

TEST_CASE("metrics from rows rank by angle and reach 1 for separated classes", "[train][metrics]") {
    auto unit = [](double deg, double scale) {
        const double r = deg * 3.14159265358979 / 180.0;
        return std::vector<float>{float(scale * std::cos(r)), float(scale * std::sin(r))};
    };
    std::vector<float> rows;
    for (auto [deg, scale] : std::vector<std::pair<double, double>>{{0, 1}, {10, 5}, {20, 2}, {100, 1}, {110, 3}}) {
        auto v = unit(deg, scale);
        rows.insert(rows.end(), v.begin(), v.end());
    }
    auto m = retrievalMetrics(rows, 2, {0, 0, 0, 1, 1}, 5);
    CHECK(m.precisionAt1 == 1.0);
    CHECK(m.mapAtR == 1.0);
    CHECK(m.rPrecision == 1.0);
    // 5-NN over 4 others: class 0 rows see 2 A + 2 B (tie -> nearer A); class 1 rows see 3 A + 1 B.
    CHECK(m.knnAccuracy == Approx(0.6));
    // Swapping labels of two rows lowers MAP@R.
    auto worse = retrievalMetrics(rows, 2, {0, 1, 0, 0, 1}, 5);
    CHECK(worse.mapAtR < 0.9);
    CHECK_THROWS(retrievalMetrics(rows, 3, {0, 0, 0, 1, 1}));
}

TEST_CASE("metrics become JSON under one fixed set of keys", "[train][metrics]") {
    // Pinned: checkpoints' "validation" metadata, `eval --json` and `train --json` all come
    // from retrievalMetricsJson, and scripts read these keys.
    const RetrievalMetrics m{.precisionAt1 = 0.5,
                             .rPrecision = 0.25,
                             .mapAtR = 0.125,
                             .knnAccuracy = 0.75,
                             .knnK = 3,
                             .queries = 7,
                             .rows = 9};
    CHECK(retrievalMetricsJson(m).dump() ==
          R"({"knn_accuracy":0.75,"knn_k":3,"map_at_r":0.125,"precision_at_1":0.5,"queries":7,"r_precision":0.25})");
    CHECK(retrievalMetricsJson(m, /*withCounts=*/false).dump() ==
          R"({"knn_accuracy":0.75,"map_at_r":0.125,"precision_at_1":0.5,"r_precision":0.25})");
}
