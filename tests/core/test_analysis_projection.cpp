#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "analysis_test_data.h"
#include "core/analysis/projection.h"
#include "core/common/error.h"
#include "core/common/runtime.h"
#include "core/io/npy.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

// 10 well-separated clusters in 384-D, as the benchmark's W4 workload but small.
const Matrix& clusters384() {
    static const Matrix x = vitrine::test::gaussianClusters(1000, 384, 10, 4.0f, 11);
    return x;
}

bool allFinite(const Matrix& m) {
    return std::all_of(m.data.begin(), m.data.end(), [](float v) { return std::isfinite(v); });
}

} // namespace

TEST_CASE("PCA keeps neighbourhoods of separated clusters and is deterministic", "[analysis][projection]") {
    const auto& x = clusters384();
    auto y = pca(x);
    REQUIRE(y.rows == x.rows);
    REQUIRE(y.cols == 2);
    REQUIRE(allFinite(y));
    const double t = trustworthiness(x, y, 10);
    INFO("trustworthiness " << t);
    REQUIRE(t >= 0.9);
    REQUIRE(pca(x).data == y.data);
    // The randomised solver finds the same top-2 subspace on clearly separated spectra.
    PcaOptions ro;
    ro.solver = PcaOptions::Solver::Randomized;
    auto r = pca(x, ro);
    auto ra = alignLayout(r, y);
    for (std::size_t i = 0; i < y.data.size(); ++i)
        REQUIRE(ra.data[i] == Approx(y.data[i]).margin(1e-2 * std::abs(y.data[i]) + 0.05));
}

TEST_CASE("PCA streamed over a memory-mapped .npy in blocks agrees with PCA of the matrix in memory",
          "[analysis][projection]") {
    namespace fs = std::filesystem;
    const auto& x = clusters384();
    const Matrix inMemory = pca(x);
    const fs::path dir = fs::temp_directory_path() / ("vitrine-pca-tests-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    io::writeNpyMatrix(dir / "x.npy", x);
    bool mapped = false;
    const MatrixView view = io::mapNpyMatrix(dir / "x.npy", &mapped);
    REQUIRE(mapped);
    // The same rows through the view give the same scores, bit for bit.
    const Matrix streamed = pca(view);
    CHECK(streamed.data == inMemory.data);
    // Many small blocks (the last one short) sum to the same covariance as one block.
    PcaOptions oneBlock, smallBlocks;
    oneBlock.blockRows = x.rows;
    smallBlocks.blockRows = 7;
    std::vector<long long> steps;
    const Matrix a = pca(view, oneBlock);
    const Matrix b = pca(view, smallBlocks, [&](long long done, long long total, const Stage& stage) {
        CHECK(stage.kind == StageKind::Pca);
        CHECK(total == 3 * ((x.rows + 6) / 7));
        steps.push_back(done);
    });
    REQUIRE(b.rows == x.rows);
    for (std::size_t i = 0; i < a.data.size(); ++i)
        REQUIRE(b.data[i] == Approx(a.data[i]).margin(1e-3 * (1.0 + std::abs(a.data[i]))));
    CHECK(std::is_sorted(steps.begin(), steps.end()));
    CHECK(steps.back() == 3 * ((x.rows + 6) / 7));
    // An independent solver (randomised SVD of the centred matrix in memory) finds the same layout.
    PcaOptions randomized;
    randomized.solver = PcaOptions::Solver::Randomized;
    const Matrix r = alignLayout(pca(x, randomized), streamed);
    for (std::size_t i = 0; i < r.data.size(); ++i)
        REQUIRE(r.data[i] == Approx(streamed.data[i]).margin(1e-2 * std::abs(streamed.data[i]) + 0.05));
    // Cancel is polled between blocks.
    CancelToken token;
    token.cancel();
    CHECK_THROWS_AS(pca(view, smallBlocks, {}, &token), Cancelled);
    fs::remove_all(dir);
}

TEST_CASE("PCA aligned to the previous frame does not flip or rotate", "[analysis][projection]") {
    auto x = vitrine::test::gaussianClusters(400, 32, 4, 3.0f, 12);
    auto reference = pca(x);
    // An orthogonal change of basis of the data (a Householder reflection) leaves the
    // layout the same up to the axes' orientation, which alignment must undo.
    std::vector<float> v(32);
    double norm = 0;
    for (int j = 0; j < 32; ++j) {
        v[j] = std::sin(1.7f * j + 0.3f);
        norm += v[j] * v[j];
    }
    Matrix rotated = x;
    for (std::int64_t i = 0; i < x.rows; ++i) {
        double dot = 0;
        for (int j = 0; j < 32; ++j)
            dot += x(i, j) * v[j];
        for (int j = 0; j < 32; ++j)
            rotated(i, j) = static_cast<float>(x(i, j) - 2.0 * dot / norm * v[j]);
    }
    PcaOptions o;
    o.alignTo = &reference;
    auto aligned = pca(rotated, o);
    for (std::size_t i = 0; i < reference.data.size(); ++i)
        REQUIRE(aligned.data[i] == Approx(reference.data[i]).margin(1e-3 * (1.0 + std::abs(reference.data[i]))));
    // Data on a 20x smaller scale (features -> normalised embeddings) keeps the frame's size.
    Matrix small = rotated;
    for (auto& value : small.data)
        value /= 20.0f;
    auto smallAligned = pca(small, o);
    for (std::size_t i = 0; i < reference.data.size(); ++i)
        REQUIRE(smallAligned.data[i] == Approx(reference.data[i]).margin(1e-3 * (1.0 + std::abs(reference.data[i]))));

    // A layout rotated by 30 degrees, flipped, shrunk and shifted comes back onto the reference.
    Matrix moved = reference;
    const float c = std::cos(0.5236f), s = std::sin(0.5236f);
    for (std::int64_t i = 0; i < moved.rows; ++i) {
        const float a = reference(i, 0), b = reference(i, 1);
        // ... and 30 times smaller, as when a live map's embedding gains a normalised head.
        moved(i, 0) = (c * a - s * b) / 30.0f + 5.0f;
        moved(i, 1) = -(s * a + c * b) / 30.0f - 2.0f;
    }
    auto back = alignLayout(moved, reference);
    for (std::size_t i = 0; i < reference.data.size(); ++i)
        REQUIRE(back.data[i] == Approx(reference.data[i]).margin(1e-3 * (1.0 + std::abs(reference.data[i]))));
}

TEST_CASE("t-SNE keeps neighbourhoods, is reproducible and cancellable", "[analysis][projection]") {
    const auto& x = clusters384();
    TsneOptions o;
    o.seed = 3;
    o.iterations = 500;
    long long lastDone = 0;
    auto y = tsne(x, o, [&](long long done, long long, const Stage& stage) {
        if (stage.kind == StageKind::Optimising)
            lastDone = done;
    });
    REQUIRE(lastDone == 500);
    REQUIRE(allFinite(y));
    const double t = trustworthiness(x, y, 10);
    INFO("trustworthiness " << t);
    REQUIRE(t >= 0.9);
    REQUIRE(tsne(x, o).data == y.data);

    // Continuing from the previous layout without exaggeration keeps it where it was.
    TsneOptions cont = o;
    cont.init = &y;
    cont.iterations = 20;
    cont.earlyExaggerationIterations = 0;
    auto y2 = tsne(x, cont);
    double moved = 0, extent = 0;
    for (std::size_t i = 0; i < y.data.size(); ++i) {
        moved += std::abs(y2.data[i] - y.data[i]);
        extent += std::abs(y.data[i]);
    }
    REQUIRE(moved < 0.1 * extent);

    CancelToken cancel;
    TsneOptions slow = o;
    slow.iterations = 100000;
    REQUIRE_THROWS_AS(tsne(
                          x, slow,
                          [&](long long done, long long, const Stage& stage) {
                              if (stage.kind == StageKind::Optimising && done >= 20)
                                  cancel.cancel();
                          },
                          &cancel),
                      Cancelled);
}

TEST_CASE("UMAP keeps neighbourhoods, is reproducible and cancellable", "[analysis][projection]") {
    const auto& x = clusters384();
    UmapOptions o;
    o.seed = 5;
    o.epochs = 200;
    auto y = umap(x, o);
    REQUIRE(y.rows == x.rows);
    REQUIRE(allFinite(y));
    const double t = trustworthiness(x, y, 10);
    INFO("trustworthiness " << t);
    REQUIRE(t >= 0.9);
    REQUIRE(umap(x, o).data == y.data);
    UmapOptions other = o;
    other.seed = 6;
    REQUIRE(umap(x, other).data != y.data);

    CancelToken cancel;
    REQUIRE_THROWS_AS(umap(
                          x, o,
                          [&](long long done, long long, const Stage& stage) {
                              if (stage.kind == StageKind::Optimising && done >= 10)
                                  cancel.cancel();
                          },
                          &cancel),
                      Cancelled);
}

TEST_CASE("UMAP's SGD on every thread above parallelAbove rows keeps neighbourhoods", "[analysis][projection]") {
    // The lock-free path large sets take, forced on 4,000 rows (about 60,000 edges, 4 blocks).
    const auto x = vitrine::test::gaussianClusters(4000, 32, 10, 4.0f, 17);
    const int before = computeThreads();
    setComputeThreads(2);
    UmapOptions o;
    o.seed = 3;
    o.epochs = 200;
    o.parallelAbove = 0;
    const auto y = umap(x, o);
    UmapOptions serial = o;
    serial.parallelAbove = x.rows;
    const auto ySerial = umap(x, serial);
    setComputeThreads(before);
    REQUIRE(y.rows == x.rows);
    REQUIRE(allFinite(y));
    const double t = trustworthiness(x, y, 10), tSerial = trustworthiness(x, ySerial, 10);
    INFO("trustworthiness parallel " << t << ", serial " << tSerial);
    CHECK(t >= 0.9);
    CHECK(t >= tSerial - 0.02);
    // The parallel path ran: its blocks draw their own negative samples, so the layout differs.
    CHECK(y.data != ySerial.data);
}

TEST_CASE("UMAP's curve matches umap-learn's find_ab_params", "[analysis][projection]") {
    // umap.umap_.find_ab_params(1.0, 0.1) = (1.5769, 0.8951); (1.0, 0.5) = (0.5830, 1.3342)
    auto [a, b] = umapCurve(0.1, 1.0);
    REQUIRE(a == Approx(1.5769).epsilon(2e-3));
    REQUIRE(b == Approx(0.8951).epsilon(2e-3));
    auto [a2, b2] = umapCurve(0.5, 1.0);
    REQUIRE(a2 == Approx(0.5830).epsilon(5e-3));
    REQUIRE(b2 == Approx(1.3342).epsilon(5e-3));
}

TEST_CASE("trustworthiness is 1 for an isometric layout and lower for a shuffled one", "[analysis][projection]") {
    auto x = vitrine::test::gaussianClusters(200, 2, 3, 3.0f, 13);
    REQUIRE(trustworthiness(x, x, 10) == Approx(1.0));
    Matrix shuffled = x;
    for (std::int64_t i = 0; i < x.rows; ++i) {
        const std::int64_t j = (i * 73 + 11) % x.rows;
        shuffled(i, 0) = x(j, 0);
        shuffled(i, 1) = x(j, 1);
    }
    REQUIRE(trustworthiness(x, shuffled, 10) < 0.7);
}

TEST_CASE("the projection policy fits small sets and continues a layout without a jump", "[analysis][projection]") {
    const Matrix x = vitrine::test::gaussianClusters(12, 8, 3, 5.0f, 4);
    ProjectionRequest request;
    request.seed = 2;
    // Perplexity 30 and 15 neighbours on 12 points: capped to what 12 points allow.
    for (const auto method : {ProjectionMethod::Pca, ProjectionMethod::Tsne, ProjectionMethod::Umap}) {
        INFO(toString(method));
        request.method = method;
        const Matrix y = projectLayout(x, request);
        REQUIRE(y.rows == 12);
        REQUIRE(y.cols == 2);
        CHECK(allFinite(y));
        CHECK(parseProjectionMethod(toString(method)) == method);
    }
    // The cap is the policy: asking for the capped perplexity gives the same layout.
    request.method = ProjectionMethod::Tsne;
    request.iterations = 300;
    ProjectionRequest capped = request;
    capped.perplexity = (12.0 - 1) / 3;
    CHECK(projectLayout(x, request).data == projectLayout(x, capped).data);
    CHECK(projectLayout(x, request).data ==
          tsne(x, {.perplexity = capped.perplexity, .iterations = 300, .seed = 2}).data);

    // Continuing: the new layout is aligned to the previous one, so a layout continued from
    // itself barely moves, and the continued t-SNE runs a quarter of the iterations.
    const Matrix previous = projectLayout(x, request);
    long long iterations = 0;
    const Matrix next = projectLayout(x, request, &previous, [&](long long done, long long, const Stage& stage) {
        if (stage.kind == StageKind::Optimising)
            iterations = done;
    });
    CHECK(iterations == 150); // max(150, 300 / 4)
    double moved = 0, spread = 0;
    for (std::int64_t i = 0; i < x.rows; ++i)
        for (int c = 0; c < 2; ++c) {
            moved = std::max(moved, double(std::abs(next(i, c) - previous(i, c))));
            spread = std::max(spread, double(std::abs(previous(i, c))));
        }
    // 12 points continued for 150 iterations still drift (0.19-0.26 of the spread, depending
    // on the PCA start); without the alignment a rotation or reflection moves them by about
    // the whole spread.
    CHECK(moved < 0.35 * spread);
    const Matrix wrong(11, 2);
    CHECK_THROWS_AS(projectLayout(x, request, &wrong), vitrine::core::Error);
    CHECK_THROWS_AS(parseProjectionMethod("mds"), vitrine::core::Error);
}
