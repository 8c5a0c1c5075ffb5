#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../support/temp_dir.h"
#include "analysis_test_data.h"
#include "core/analysis/audit.h"
#include "core/common/error.h"
#include "core/common/files.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

io::RowTable table(std::int64_t n, const std::vector<int>& labels) {
    io::RowTable t;
    t.columns = {"path", "label", "split"};
    for (std::int64_t i = 0; i < n; ++i)
        t.rows.push_back({"c" + std::to_string(labels[std::size_t(i)]) + "/img_" + std::to_string(i) + ".jpg",
                          "c" + std::to_string(labels[std::size_t(i)]), "train"});
    return t;
}

void copyRow(Matrix& m, std::int64_t to, std::int64_t from, float noise, std::mt19937_64& rng) {
    std::normal_distribution<float> normal(0.0f, noise);
    for (std::int64_t j = 0; j < m.cols; ++j)
        m(to, j) = m(from, j) + (noise > 0 ? normal(rng) : 0.0f);
}

bool hasGroup(const AuditReport& r, std::vector<std::int64_t> rows, bool exact) {
    std::sort(rows.begin(), rows.end());
    return std::any_of(r.duplicates.begin(), r.duplicates.end(),
                       [&](const DuplicateGroup& g) { return g.rows == rows && g.exact == exact; });
}

} // namespace

TEST_CASE("audit ranks planted duplicates, leakage, mislabels and outliers first", "[audit]") {
    std::vector<int> labels;
    auto x = vitrine::test::gaussianClusters(600, 128, 4, 3.0f, 11, &labels);
    std::mt19937_64 rng(5);
    auto rows = table(x.rows, labels);
    // Duplicates (same cluster): 20 = 24 exactly, one in each split; 30 ~ 34 with another label.
    copyRow(x, 20, 24, 0.0f, rng);
    rows.rows[24][2] = "val";
    copyRow(x, 30, 34, 0.3f, rng);
    rows.rows[30][1] = rows.rows[34][1] == "c0" ? "c1" : "c0";
    // Mislabels: two rows carry the next cluster's label.
    for (std::int64_t r : {100, 201})
        rows.rows[std::size_t(r)][1] = "c" + std::to_string((labels[std::size_t(r)] + 1) % 4);
    // Outliers: two points far from every cluster, in directions of their own.
    std::normal_distribution<float> normal;
    for (std::int64_t r : {400, 500})
        for (std::int64_t j = 0; j < x.cols; ++j)
            x(r, j) = 6.0f * normal(rng);

    AuditOptions o;
    o.checkPixels = false; // no files here
    auto rep = audit(x, rows, "/nonexistent", o);

    CHECK(rep.thresholdFromData);
    CHECK(rep.nearDuplicateDistance >= kMinNearDuplicate);
    CHECK(rep.nearDuplicateDistance <= kMaxNearDuplicate);
    CHECK(rep.k == 10);
    REQUIRE(rep.duplicates.size() == 2);
    CHECK(hasGroup(rep, {20, 24}, false)); // pixels not checked: never "exact"
    CHECK(hasGroup(rep, {30, 34}, false));
    CHECK(rep.duplicates[0].distance <= rep.duplicates[1].distance);

    REQUIRE(rep.leakage.size() == 2);
    CHECK(rep.leakage[0].rows == std::vector<std::int64_t>{20, 24});
    CHECK(rep.leakage[0].crossesSplit);
    CHECK_FALSE(rep.leakage[0].mixedLabels);
    CHECK(rep.leakage[1].rows == std::vector<std::int64_t>{30, 34});
    CHECK(rep.leakage[1].mixedLabels);

    // Mislabels: 100 and 201, and 30 (relabelled with its duplicate) too.
    REQUIRE(rep.mislabels.size() >= 3);
    std::vector<std::int64_t> topMislabels{rep.mislabels[0].row, rep.mislabels[1].row, rep.mislabels[2].row};
    std::sort(topMislabels.begin(), topMislabels.end());
    CHECK(topMislabels == std::vector<std::int64_t>{30, 100, 201});
    for (int i = 0; i < 3; ++i) {
        const auto& m = rep.mislabels[std::size_t(i)];
        CHECK(m.suggested == "c" + std::to_string(labels[std::size_t(m.row)]));
        CHECK(m.label == rows.rows[std::size_t(m.row)][1]);
        CHECK(m.score > 0.9f);
    }

    REQUIRE(rep.outliers.size() >= 2);
    std::vector<std::int64_t> topOutliers{rep.outliers[0].row, rep.outliers[1].row};
    std::sort(topOutliers.begin(), topOutliers.end());
    CHECK(topOutliers == std::vector<std::int64_t>{400, 500});
    CHECK(rep.outliers[1].score > 0.99f);
    // The most isolated 1 % (at least 10) are listed, and beyond those only rows past the cut-off.
    REQUIRE(rep.outliers.size() >= 10);
    for (std::size_t i = 10; i < rep.outliers.size(); ++i)
        CHECK(rep.outliers[i].score >= 0.5f);
    CHECK(rep.outliers[2].knnDistance < 0.8f * rep.outliers[1].knnDistance);

    REQUIRE(rep.mislabelScore.size() == 600);
    REQUIRE(rep.outlierScore.size() == 600);
    for (std::size_t i = 0; i < 600; ++i) {
        CHECK(rep.mislabelScore[i] >= 0.0f);
        CHECK(rep.mislabelScore[i] <= 1.0f);
        CHECK(rep.outlierScore[i] >= 0.0f);
        CHECK(rep.outlierScore[i] <= 1.0f);
    }
    for (std::size_t i = 1; i < rep.mislabels.size(); ++i)
        CHECK(rep.mislabels[i - 1].score >= rep.mislabels[i].score);
    for (std::size_t i = 1; i < rep.outliers.size(); ++i)
        CHECK(rep.outliers[i - 1].score >= rep.outliers[i].score);

    // A threshold that is given is used as given.
    o.nearDuplicateDistance = 0.0f;
    auto strict = audit(x, rows, "/nonexistent", o);
    CHECK_FALSE(strict.thresholdFromData);
    CHECK(strict.nearDuplicateDistance == 0.0f);
    CHECK_FALSE(hasGroup(strict, {30, 34}, false));
    CHECK(hasGroup(strict, {20, 24}, false)); // the same embedding is always a duplicate
}

TEST_CASE("audit tells exact pixel duplicates from near ones by decoding the candidates", "[audit]") {
    TempDir tmp("audit-pixels");
    fs::create_directories(tmp / "set/a");
    // One picture saved twice with different PNG compression (different bytes, same pixels),
    // and once resized (different pixels).
    cv::Mat img(64, 96, CV_8UC3);
    cv::randu(img, 0, 255);
    cv::GaussianBlur(img, img, {7, 7}, 2.0);
    REQUIRE(cv::imwrite((tmp / "set/a/one.png").string(), img, {cv::IMWRITE_PNG_COMPRESSION, 1}));
    REQUIRE(cv::imwrite((tmp / "set/a/two.png").string(), img, {cv::IMWRITE_PNG_COMPRESSION, 9}));
    cv::Mat small;
    cv::resize(img, small, {48, 32}, 0, 0, cv::INTER_AREA);
    REQUIRE(cv::imwrite((tmp / "set/a/small.png").string(), small));
    REQUIRE(readFile(tmp / "set/a/one.png") != readFile(tmp / "set/a/two.png"));
    CHECK(pixelHash(tmp / "set/a/one.png") == pixelHash(tmp / "set/a/two.png"));
    CHECK(pixelHash(tmp / "set/a/one.png") != pixelHash(tmp / "set/a/small.png"));

    // Embeddings: the three nearly equal, far from four unrelated rows.
    std::vector<int> labels(7, 0);
    auto x = vitrine::test::gaussianClusters(7, 16, 7, 5.0f, 3);
    std::mt19937_64 rng(1);
    copyRow(x, 1, 0, 0.0f, rng);
    copyRow(x, 2, 0, 0.01f, rng);
    auto rows = table(7, labels);
    rows.rows[0][0] = "a/one.png";
    rows.rows[1][0] = "a/two.png";
    rows.rows[2][0] = "a/small.png";
    AuditOptions o;
    o.nearDuplicateDistance = 0.01f;
    auto rep = audit(x, rows, tmp / "set", o);
    INFO(rep.unreadable.size());
    CHECK(rep.unreadable.empty());
    REQUIRE(rep.duplicates.size() == 2);
    CHECK(rep.duplicates[0].exact);
    CHECK(rep.duplicates[0].rows == std::vector<std::int64_t>{0, 1});
    CHECK_FALSE(rep.duplicates[1].exact);
    CHECK(rep.duplicates[1].rows == std::vector<std::int64_t>{0, 1, 2});

    // An undecodable candidate is reported and never called an exact duplicate.
    std::ofstream(tmp / "set/a/two.png", std::ios::trunc) << "not a png";
    rep = audit(x, rows, tmp / "set", o);
    CHECK(rep.unreadable.size() == 1);
    CHECK(std::none_of(rep.duplicates.begin(), rep.duplicates.end(), [](const DuplicateGroup& g) { return g.exact; }));
}

TEST_CASE("audit refuses mismatched inputs and stops when cancelled", "[audit]") {
    std::vector<int> labels;
    auto x = vitrine::test::gaussianClusters(50, 8, 2, 3.0f, 1, &labels);
    auto rows = table(49, labels);
    CHECK_THROWS_AS(audit(x, rows, "/"), Error);
    rows = table(50, labels);
    CancelToken token;
    token.cancel();
    CHECK_THROWS_AS(audit(x, rows, "/", {}, {}, &token), Cancelled);
    // Progress names its stages.
    std::vector<vitrine::core::StageKind> stages;
    AuditOptions o;
    o.checkPixels = false;
    audit(x, rows, "/", o, [&](long long, long long, const vitrine::core::Stage& s) {
        if (stages.empty() || stages.back() != s.kind)
            stages.push_back(s.kind);
    });
    CHECK(std::find(stages.begin(), stages.end(), vitrine::core::StageKind::Neighbours) != stages.end());
    CHECK(stages.back() == vitrine::core::StageKind::Scoring);
}
