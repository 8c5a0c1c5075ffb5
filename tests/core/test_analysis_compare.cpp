#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

#include <opencv2/core.hpp>

#include "analysis_test_data.h"
#include "core/analysis/compare.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

io::RowTable table(std::int64_t n, const std::vector<int>& labels) {
    io::RowTable t;
    t.columns = {"path", "label"};
    for (std::int64_t i = 0; i < n; ++i)
        t.rows.push_back({"c" + std::to_string(labels[std::size_t(i)]) + "/img_" + std::to_string(i) + ".jpg",
                          "c" + std::to_string(labels[std::size_t(i)])});
    return t;
}

/// [rows, cols] with orthonormal rows (rows <= cols): the first rows of a random orthogonal
/// matrix, so x * q keeps every dot product of x's rows (and so every cosine).
cv::Mat orthonormalRows(int rows, int cols, std::uint64_t seed) {
    cv::Mat r(cols, cols, CV_64F);
    cv::RNG rng(seed);
    rng.fill(r, cv::RNG::NORMAL, 0, 1);
    cv::Mat w, u, vt;
    cv::SVD::compute(r, w, u, vt);
    return u.rowRange(0, rows).clone();
}

Matrix times(const Matrix& x, const cv::Mat& q) {
    cv::Mat xd;
    cv::Mat(int(x.rows), int(x.cols), CV_32F, const_cast<float*>(x.data.data())).convertTo(xd, CV_64F);
    const cv::Mat y = xd * q;
    Matrix out(x.rows, q.cols);
    cv::Mat o(int(out.rows), int(out.cols), CV_32F, out.data.data());
    y.convertTo(o, CV_32F);
    return out;
}

} // namespace

TEST_CASE("procrustes recovers a rotation, reflection, scale and shift of a map", "[compare]") {
    std::mt19937_64 rng(3);
    std::normal_distribution<float> normal;
    Matrix ref(50, 2);
    for (float& v : ref.data)
        v = normal(rng);
    for (const bool reflect : {false, true}) {
        // moving = (ref R^T) / 3 + t: the fit must undo it exactly.
        const double angle = 0.7, c = std::cos(angle), s = std::sin(angle);
        Matrix moving(ref.rows, 2);
        for (std::int64_t i = 0; i < ref.rows; ++i) {
            const double x = ref(i, 0), y = reflect ? -ref(i, 1) : ref(i, 1);
            moving(i, 0) = float((c * x - s * y) / 3.0 + 5.0);
            moving(i, 1) = float((s * x + c * y) / 3.0 - 2.0);
        }
        const auto fit = procrustes(moving, ref);
        INFO("reflect " << reflect);
        CHECK(fit.reflection == reflect);
        CHECK(fit.scale == Approx(3.0).epsilon(1e-5));
        CHECK(fit.residual < 1e-10);
        CHECK(fit.rmsError < 1e-5);
        for (std::size_t i = 0; i < ref.data.size(); ++i)
            REQUIRE(fit.aligned.data[i] == Approx(ref.data[i]).margin(1e-4));
        // The transform reported is the one applied.
        const auto& r = fit.rotation;
        const double x = moving(7, 0), y = moving(7, 1);
        CHECK(fit.scale * (x * r[0] + y * r[2]) + fit.translation[0] == Approx(ref(7, 0)).margin(1e-4));
        CHECK(fit.scale * (x * r[1] + y * r[3]) + fit.translation[1] == Approx(ref(7, 1)).margin(1e-4));
    }
    // Unrelated maps: a residual well away from 0, never above 1.
    Matrix noise(ref.rows, 2);
    for (float& v : noise.data)
        v = normal(rng);
    const auto bad = procrustes(noise, ref);
    CHECK(bad.residual > 0.5);
    CHECK(bad.residual <= 1.0);
    CHECK_THROWS_AS(procrustes(Matrix(3, 2), Matrix(4, 2)), Error);
}

TEST_CASE("compare: a rotated embedding keeps every neighbourhood and its PCA map", "[compare]") {
    std::vector<int> labels;
    const auto a = vitrine::test::gaussianClusters(300, 16, 5, 3.0f, 21, &labels);
    // B: A in a 24-dimensional space, rotated: other dims, same cosines.
    const auto b = times(a, orthonormalRows(16, 24, 4));
    REQUIRE(b.cols == 24);
    const auto mapA = pca(a), mapB = pca(b);
    CompareOptions o;
    o.k = 10;
    o.mapA = &mapA;
    o.mapB = &mapB;
    const auto rows = table(a.rows, labels);
    const auto rep = compareEmbeddings(a, b, rows, o);

    CHECK(rep.k == 10);
    CHECK(rep.meanOverlap == Approx(1.0));
    REQUIRE(rep.overlap.size() == 300);
    CHECK(std::all_of(rep.overlap.begin(), rep.overlap.end(), [](float v) { return v == 1.0f; }));
    REQUIRE(rep.changed.size() == 300);
    for (const auto& ch : rep.changed) {
        REQUIRE(ch.onlyA.empty());
        REQUIRE(ch.onlyB.empty());
    }
    REQUIRE(rep.perClassOverlap.size() == 5);
    for (const auto& [label, v] : rep.perClassOverlap)
        CHECK(v == Approx(1.0));
    REQUIRE(rep.procrustes);
    CHECK(rep.procrustes->residual < 1e-6);
    CHECK(rep.procrustes->scale == Approx(1.0).epsilon(1e-3));
}

TEST_CASE("compare lists the images whose neighbours were shuffled first", "[compare]") {
    std::vector<int> labels;
    const auto a = vitrine::test::gaussianClusters(400, 32, 8, 6.0f, 5, &labels);
    // Planted: one row of each cluster (row 9j is in cluster j), and each gets the next
    // one's embedding, so under B it sits in another cluster.
    std::vector<std::int64_t> planted;
    for (std::int64_t j = 0; j < 8; ++j)
        planted.push_back(9 * j);
    auto b = a;
    for (std::size_t j = 0; j < planted.size(); ++j)
        std::copy_n(a.row(planted[(j + 1) % planted.size()]), a.cols, b.row(planted[j]));
    const auto rows = table(a.rows, labels);
    CompareOptions o;
    o.k = 10;
    const auto rep = compareEmbeddings(a, b, rows, o);

    std::set<std::int64_t> first;
    for (std::size_t i = 0; i < planted.size(); ++i) {
        first.insert(rep.changed[i].row);
        CHECK(rep.changed[i].overlap <= 0.1f);
        CHECK(rep.changed[i].onlyA.size() + 10 * rep.changed[i].overlap == Approx(10));
        CHECK(rep.changed[i].onlyB.size() == rep.changed[i].onlyA.size());
    }
    CHECK(first == std::set<std::int64_t>(planted.begin(), planted.end()));
    // Everyone else lost at most the planted rows that moved out of or into their cluster.
    CHECK(rep.changed[planted.size()].overlap >= 0.7f);
    for (std::size_t i = 1; i < rep.changed.size(); ++i)
        REQUIRE(rep.changed[i - 1].overlap <= rep.changed[i].overlap);
    CHECK(rep.meanOverlap < 1.0);
    CHECK(rep.meanOverlap > 0.9);
    // The per-class means are the rows' means.
    for (const auto& [label, mean] : rep.perClassOverlap) {
        double sum = 0;
        int count = 0;
        for (std::int64_t i = 0; i < a.rows; ++i)
            if (rows.value(i, "label") == label) {
                sum += rep.overlap[std::size_t(i)];
                ++count;
            }
        CHECK(mean == Approx(sum / count));
    }
    CHECK(rep.overlap[std::size_t(planted[0])] <= 0.1f);
    CHECK_FALSE(rep.procrustes);
}

TEST_CASE("compare refuses mismatched inputs and stops when cancelled", "[compare]") {
    const auto a = vitrine::test::gaussianClusters(40, 8, 2, 3.0f, 1);
    const auto b = vitrine::test::gaussianClusters(41, 8, 2, 3.0f, 1);
    CHECK_THROWS_AS(compareEmbeddings(a, b, {}), Error);
    CHECK_THROWS_AS(compareEmbeddings(Matrix(1, 4, 1.0f), Matrix(1, 4, 1.0f), {}), Error);
    CancelToken cancel;
    cancel.cancel();
    CHECK_THROWS_AS(compareEmbeddings(a, a, {}, {}, {}, &cancel), Cancelled);
    // k larger than the set: clamped to N - 1, so everyone is everyone's neighbour.
    CompareOptions o;
    o.k = 100;
    const auto rep = compareEmbeddings(a, a, {}, o);
    CHECK(rep.k == 39);
    CHECK(rep.meanOverlap == Approx(1.0));
}

TEST_CASE("rows of two embeddings files are matched by path", "[compare]") {
    io::RowTable a, b;
    a.columns = {"path", "label"};
    b.columns = {"label", "path"};
    a.rows = {{"cat/1.jpg", "cat"}, {"cat/2.jpg", "cat"}, {"dog/3.jpg", "dog"}};
    b.rows = {{"dog", "dog/3.jpg"}, {"cat", "cat/1.jpg"}};
    CHECK(matchRowsByPath(a, b) == std::vector<std::int64_t>{1, -1, 0});
    io::RowTable none;
    none.columns = {"label"};
    CHECK_THROWS_AS(matchRowsByPath(a, none), Error);
}
