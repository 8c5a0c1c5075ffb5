// Per-image attention statistics (class-token entropy, rollout concentration, high-norm
// tokens): their definitions on hand-built attention, and the batched run over real photos
// with the bundled model against one image at a time through the Inspector's path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <opencv2/core.hpp>

#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_stats.h"
#include "core/analysis/inspection.h"
#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/vit.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

/// Every layer and head: every token's row is `classRow` for the class token, uniform for
/// the patches.
AttentionStack stackWithClassRow(int grid, int layers, int heads, const std::vector<float>& classRow) {
    AttentionStack s;
    s.layers = layers;
    s.heads = heads;
    s.tokens = grid * grid + 1;
    const std::size_t t = static_cast<std::size_t>(s.tokens);
    s.values.assign(static_cast<std::size_t>(layers) * heads * t * t, 1.0f / static_cast<float>(t));
    for (int l = 0; l < layers; ++l)
        for (int h = 0; h < heads; ++h)
            std::copy(classRow.begin(), classRow.end(),
                      s.values.begin() +
                          static_cast<std::ptrdiff_t>((static_cast<std::size_t>(l) * heads + h) * t * t));
    return s;
}

cv::Mat gaussianTokens(int n, int d, unsigned seed) {
    cv::Mat m(n, d, CV_32F);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::NORMAL, 0, 1);
    return m;
}

} // namespace

TEST_CASE("attention statistics: even attention is entropy 1 and no concentration; one patch is entropy 0",
          "[attention-stats]") {
    const int grid = 4, n = 16;
    const cv::Mat tokens = gaussianTokens(n, 8, 3);

    std::vector<float> even(n + 1, 1.0f / (n + 1));
    const auto flat = attentionStatistics(stackWithClassRow(grid, 2, 3, even), tokens, grid);
    CHECK(flat.classEntropy == Approx(1.0).margin(1e-5));
    CHECK(flat.rolloutConcentration == Approx(0.0).margin(0.05));
    CHECK(flat.highNormTokens == 0);

    std::vector<float> onePatch(n + 1, 0.0f);
    onePatch[6] = 1.0f; // patch 5
    const auto focused = attentionStatistics(stackWithClassRow(grid, 2, 3, onePatch), tokens, grid);
    CHECK(focused.classEntropy == Approx(0.0).margin(1e-6));
    CHECK(focused.rolloutConcentration > 0.8f);

    // Half the mass on two patches: entropy between, and ordered.
    std::vector<float> two(n + 1, 0.5f / (n - 2));
    two[0] = 0;
    two[3] = two[9] = 0.25f;
    const auto some = attentionStatistics(stackWithClassRow(grid, 2, 3, two), tokens, grid);
    CHECK(some.classEntropy > focused.classEntropy);
    CHECK(some.classEntropy < flat.classEntropy);
    CHECK(some.rolloutConcentration > flat.rolloutConcentration);
    CHECK(some.rolloutConcentration < focused.rolloutConcentration);

    // Two planted high-norm tokens are counted.
    cv::Mat planted = tokens.clone();
    planted.row(2) *= 12.0f;
    planted.row(11) *= 15.0f;
    CHECK(attentionStatistics(stackWithClassRow(grid, 2, 3, even), planted, grid).highNormTokens == 2);

    // A stack that does not match the grid is refused, naming both counts.
    CHECK_THROWS_WITH(attentionStatistics(stackWithClassRow(3, 1, 1, std::vector<float>(10, 0.1f)), tokens, grid),
                      Catch::Contains("9 patches") && Catch::Contains("16"));
}

TEST_CASE("attention statistics of real photos in batches equal the Inspector's, one image at a time; a broken file "
          "is reported and the rest goes on",
          "[attention-stats][bundled]") {
    auto loaded = model::loadModel("default");
    loaded.model->eval();
    std::vector<fs::path> files;
    for (const char* breed : {"cat/Bengal", "dog/pug", "cat/Abyssinian"}) {
        std::vector<fs::path> found;
        for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed))
            if (e.is_regular_file() && e.path().extension() == ".jpg")
                found.push_back(e.path());
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.begin() + 2);
    }
    vitrine::testutil::TempDir dir("attention-stats");
    const fs::path broken = dir / "broken.jpg";
    std::ofstream(broken) << "not a JPEG";
    files.insert(files.begin() + 3, broken);

    long long lastDone = -1, lastTotal = -1;
    const auto run = computeAttentionStatistics(
        *loaded.model, files, /*batch=*/4,
        [&](long long done, long long total, const vitrine::core::Stage&) {
            lastDone = done;
            lastTotal = total;
        },
        nullptr);
    REQUIRE(run.perImage.size() == files.size());
    CHECK(lastDone == static_cast<long long>(files.size()));
    CHECK(lastTotal == static_cast<long long>(files.size()));
    REQUIRE(run.errors.size() == 1);
    CHECK_THAT(run.errors[0], Catch::Contains("broken.jpg"));
    CHECK_FALSE(run.perImage[3].valid());

    const int grid = loaded.model->config().gridSize();
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (i == 3)
            continue;
        INFO(files[i].string());
        const auto& s = run.perImage[i];
        REQUIRE(s.valid());
        CHECK(s.classEntropy > 0.0f);
        CHECK(s.classEntropy < 1.0f);
        CHECK(s.rolloutConcentration >= 0.0f);
        CHECK(s.rolloutConcentration <= 1.0f);
        const cv::Mat rgb = image::decodeForModel(files[i], loaded.model->config().inputOptions());
        const auto one = inspectImage(*loaded.model, rgb);
        const auto alone = attentionStatistics(one.attention, one.patchTokens, grid);
        CHECK(s.classEntropy == Approx(alone.classEntropy).margin(1e-4));
        CHECK(s.rolloutConcentration == Approx(alone.rolloutConcentration).margin(0.02));
        CHECK(s.highNormTokens == alone.highNormTokens);
    }
    // The statistics tell the photos apart (not one value for all).
    float lo = 1, hi = 0;
    for (const auto& s : run.perImage)
        if (s.valid()) {
            lo = std::min(lo, s.classEntropy);
            hi = std::max(hi, s.classEntropy);
        }
    CHECK(hi - lo > 0.01f);

    CancelToken cancel;
    cancel.cancel();
    CHECK_THROWS_AS(computeAttentionStatistics(*loaded.model, files, 4, {}, &cancel), Cancelled);
}
