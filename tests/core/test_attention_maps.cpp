// Attention maps, rollout and the DINO mask on hand-built attention stacks whose answer is
// known, plus properties on seeded random ones.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>

#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_view.h"
#include "core/common/error.h"

using namespace vitrine::core::analysis;

namespace {

// Every head of every layer = identity (each token attends only to itself).
AttentionStack identityStack(int layers, int heads, int grid) {
    AttentionStack s;
    s.layers = layers;
    s.heads = heads;
    s.tokens = grid * grid + 1;
    s.values.assign(static_cast<std::size_t>(layers) * heads * s.tokens * s.tokens, 0.f);
    for (int l = 0; l < layers; ++l)
        for (int h = 0; h < heads; ++h)
            cv::setIdentity(s.matrix(l, h));
    return s;
}

// Seeded softmax rows, like a model's.
AttentionStack randomStack(int layers, int heads, int grid, unsigned seed) {
    AttentionStack s = identityStack(layers, heads, grid);
    std::mt19937 rng(seed);
    std::normal_distribution<float> logit(0.f, 2.f);
    for (int l = 0; l < layers; ++l)
        for (int h = 0; h < heads; ++h) {
            cv::Mat m = s.matrix(l, h);
            for (int r = 0; r < m.rows; ++r) {
                double sum = 0;
                for (int c = 0; c < m.cols; ++c)
                    sum += (m.at<float>(r, c) = std::exp(logit(rng)));
                m.row(r) /= sum;
            }
        }
    return s;
}

void requireRowsSumToOne(const cv::Mat& m) {
    for (int r = 0; r < m.rows; ++r)
        REQUIRE(cv::sum(m.row(r))[0] == Approx(1.0).margin(1e-5));
}

cv::Point argmax(const cv::Mat& m) {
    cv::Point loc;
    cv::minMaxLoc(m, nullptr, nullptr, nullptr, &loc);
    return loc;
}

} // namespace

TEST_CASE("single-head and mean-fused attention rows sum to 1", "[attention]") {
    const auto s = randomStack(3, 4, 4, 7);
    for (int l = 0; l < s.layers; ++l) {
        for (int h = 0; h < s.heads; ++h)
            requireRowsSumToOne(layerAttention(s, l, HeadChoice::single(h)));
        requireRowsSumToOne(layerAttention(s, l, HeadChoice::fused(HeadFusion::Mean)));
    }
    // The class-token map is the class row without its own column.
    const cv::Mat full = layerAttention(s, 1, HeadChoice::single(2));
    const cv::Mat map = classAttentionMap(s, 1, HeadChoice::single(2));
    REQUIRE(map.size() == cv::Size(4, 4));
    REQUIRE(cv::sum(map)[0] == Approx(1.0 - full.at<float>(0, 0)).margin(1e-5));
}

TEST_CASE("rollout of identity attention is the identity", "[attention]") {
    const auto s = identityStack(4, 3, 3);
    const cv::Mat eye = cv::Mat::eye(s.tokens, s.tokens, CV_32F);
    for (bool residual : {true, false})
        for (double discard : {0.0, 0.5, 0.9})
            for (auto fusion : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min}) {
                RolloutOptions o;
                o.addResidual = residual;
                o.discardRatio = discard;
                o.fusion = fusion;
                REQUIRE(cv::norm(attentionRollout(s, o), eye, cv::NORM_INF) < 1e-6);
            }
}

TEST_CASE("class token attending only to patch 5 gives a map peaking at patch 5", "[attention]") {
    auto s = identityStack(2, 2, 3); // 3x3 grid, 10 tokens
    for (int l = 0; l < 2; ++l)
        for (int h = 0; h < 2; ++h) {
            cv::Mat m = s.matrix(l, h);
            m.row(0).setTo(0);
            m.at<float>(0, 1 + 5) = 1.f;
        }
    const cv::Mat map = classAttentionMap(s, 1, HeadChoice::fused(HeadFusion::Mean));
    REQUIRE(map.size() == cv::Size(3, 3));
    REQUIRE(argmax(map) == cv::Point(5 % 3, 5 / 3));
    REQUIRE(map.at<float>(1, 2) == Approx(1.0));
    REQUIRE(cv::sum(map)[0] == Approx(1.0));

    // With the residual: one layer leaves 1/2 on the class token and 1/2 on patch 5; the
    // second sends the class token's half on again: 1/4 stays, 3/4 reach patch 5.
    RolloutOptions one;
    one.lastLayer = 0;
    const cv::Mat r1 = attentionRollout(s, one);
    REQUIRE(r1.at<float>(0, 0) == Approx(0.5));
    REQUIRE(r1.at<float>(0, 6) == Approx(0.5));
    const cv::Mat r2 = attentionRollout(s);
    REQUIRE(r2.at<float>(0, 0) == Approx(0.25));
    REQUIRE(r2.at<float>(0, 6) == Approx(0.75));
    requireRowsSumToOne(r2);
    const cv::Mat rmap = rolloutMap(s);
    REQUIRE(argmax(rmap) == cv::Point(2, 1));
    REQUIRE(rmap.at<float>(1, 2) == Approx(0.75));
}

TEST_CASE("a patch's attention row and head fusions are read from the right place", "[attention]") {
    auto s = identityStack(1, 3, 3);
    // Patch 3 (token 4): head 0 looks at patch 7 only, head 1 splits between 7 and 0, head 2 at itself.
    cv::Mat h0 = s.matrix(0, 0), h1 = s.matrix(0, 1);
    h0.row(4).setTo(0);
    h0.at<float>(4, 8) = 1.f;
    h1.row(4).setTo(0);
    h1.at<float>(4, 8) = 0.5f;
    h1.at<float>(4, 1) = 0.5f;
    const auto at = [](const cv::Mat& m, int patch) { return m.at<float>(patch / 3, patch % 3); };

    const cv::Mat head0 = patchAttentionMap(s, 0, HeadChoice::single(0), 3);
    REQUIRE(at(head0, 7) == Approx(1.0));
    const cv::Mat mean = patchAttentionMap(s, 0, parseHeadChoice("mean", 3), 3);
    REQUIRE(at(mean, 7) == Approx(0.5));
    REQUIRE(at(mean, 0) == Approx(1.0 / 6));
    REQUIRE(at(mean, 3) == Approx(1.0 / 3));
    const cv::Mat mx = patchAttentionMap(s, 0, parseHeadChoice("max", 3), 3);
    REQUIRE(at(mx, 7) == Approx(1.0));
    REQUIRE(at(mx, 3) == Approx(1.0));
    const cv::Mat mn = patchAttentionMap(s, 0, parseHeadChoice("min", 3), 3);
    REQUIRE(cv::countNonZero(mn) == 0);

    const auto perHead = headAttentionMaps(s, 0, 4);
    REQUIRE(perHead.size() == 3);
    REQUIRE(cv::norm(perHead[0], head0, cv::NORM_INF) == 0);

    REQUIRE(parseHeadChoice("2", 3).head == 2);
    REQUIRE_THROWS_AS(parseHeadChoice("3", 3), vitrine::core::Error);
    REQUIRE_THROWS_AS(parseHeadChoice("median", 3), vitrine::core::Error);
    REQUIRE_THROWS_AS(attentionMap(s, 1, HeadChoice{}), vitrine::core::Error);
}

TEST_CASE("rollout of random attention has rows summing to 1 and discard changes it", "[attention]") {
    const auto s = randomStack(6, 4, 5, 11);
    for (auto fusion : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min})
        for (double discard : {0.0, 0.9}) {
            RolloutOptions o;
            o.fusion = fusion;
            o.discardRatio = discard;
            const cv::Mat r = attentionRollout(s, o);
            REQUIRE(r.size() == cv::Size(26, 26));
            requireRowsSumToOne(r);
            double lo = 0;
            cv::minMaxLoc(r, &lo);
            REQUIRE(lo >= 0);
        }
    RolloutOptions keep, drop;
    drop.discardRatio = 0.9;
    REQUIRE(cv::norm(attentionRollout(s, keep), attentionRollout(s, drop), cv::NORM_INF) > 1e-3);
    RolloutOptions bad;
    bad.discardRatio = 1.0;
    REQUIRE_THROWS_AS(attentionRollout(s, bad), vitrine::core::Error);
}

TEST_CASE("discard ratio drops the lowest fused entries but keeps class-to-class", "[attention]") {
    // One layer, one head, 2x2 grid (T = 5): entries 1..25 in reading order, rows
    // normalised afterwards by the rollout itself.
    AttentionStack s = identityStack(1, 1, 2);
    cv::Mat m = s.matrix(0, 0);
    for (int i = 0; i < 25; ++i)
        m.at<float>(i / 5, i % 5) = static_cast<float>(i + 1);
    RolloutOptions o;
    o.addResidual = false;
    o.discardRatio = 0.2; // 5 lowest of 25: entries 1..5 = row 0; [0, 0] survives
    const cv::Mat r = attentionRollout(s, o);
    REQUIRE(r.at<float>(0, 0) == Approx(1.0)); // only [0, 0] left in row 0
    REQUIRE(r.at<float>(1, 0) == Approx(6.0 / 40));
    requireRowsSumToOne(r);
}

TEST_CASE("the DINO mask keeps the smallest set holding the chosen share", "[attention]") {
    const cv::Mat map = (cv::Mat_<float>(2, 2) << 0.1f, 0.4f, 0.2f, 0.3f);
    auto m = massMask(map, 0.6);
    REQUIRE(m.keptCount == 2);
    REQUIRE(m.mask.at<unsigned char>(0, 1) == 255);
    REQUIRE(m.mask.at<unsigned char>(1, 1) == 255);
    REQUIRE(m.mask.at<unsigned char>(0, 0) == 0);
    REQUIRE(m.keptShare == Approx(0.7));
    REQUIRE(massMask(map, 0.7).keptCount == 2);
    REQUIRE(massMask(map, 0.71).keptCount == 3);
    REQUIRE(massMask(map, 1.0).keptCount == 4);

    // Random maps: the kept share reaches the target, and dropping the weakest kept patch
    // would fall short of it (minimality).
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (int trial = 0; trial < 20; ++trial) {
        cv::Mat r(14, 14, CV_32F);
        for (auto it = r.begin<float>(); it != r.end<float>(); ++it)
            *it = u(rng) * u(rng);
        const double total = cv::sum(r)[0];
        const auto mm = massMask(r, 0.6);
        double kept = 0, weakest = 1e9;
        for (int i = 0; i < 196; ++i)
            if (mm.mask.at<unsigned char>(i / 14, i % 14)) {
                kept += r.at<float>(i / 14, i % 14);
                weakest = std::min<double>(weakest, r.at<float>(i / 14, i % 14));
            }
        REQUIRE(kept / total >= 0.6 - 1e-6);
        REQUIRE((kept - weakest) / total < 0.6);
        REQUIRE(mm.keptShare == Approx(kept / total).epsilon(1e-4));
    }
    REQUIRE_THROWS_AS(massMask(map, 0.0), vitrine::core::Error);
}

TEST_CASE("malformed attention stacks are refused with a reason", "[attention]") {
    AttentionStack s = identityStack(1, 1, 2);
    s.values.pop_back();
    REQUIRE_THROWS_AS(s.validate(), vitrine::core::Error);
    AttentionStack odd;
    odd.layers = odd.heads = 1;
    odd.tokens = 6; // 5 patches: not a square grid
    odd.values.assign(36, 0.f);
    REQUIRE_THROWS_AS(odd.validate(), vitrine::core::Error);
}

TEST_CASE("rollout matches the PyTorch reference (vit-explain with row normalisation)", "[attention]") {
    std::ifstream in(std::string(VITRINE_FIXTURES) + "/attention_rollout.json");
    REQUIRE(in.good());
    const auto j = nlohmann::json::parse(in);
    AttentionStack s;
    s.layers = j["layers"];
    s.heads = j["heads"];
    s.tokens = j["tokens"];
    s.values = j["attention"].get<std::vector<float>>();
    REQUIRE_NOTHROW(s.validate());
    for (const auto& c : j["cases"]) {
        RolloutOptions o;
        o.fusion = parseHeadFusion(c["fusion"].get<std::string>());
        o.discardRatio = c["discard_ratio"];
        const auto expected = c["rollout"].get<std::vector<float>>();
        const cv::Mat r = attentionRollout(s, o);
        INFO("fusion " << c["fusion"] << " discard " << o.discardRatio);
        for (int i = 0; i < s.tokens * s.tokens; ++i)
            REQUIRE(r.at<float>(i / s.tokens, i % s.tokens) ==
                    Approx(expected[static_cast<std::size_t>(i)]).margin(1e-5));
    }
}

TEST_CASE("one attention-view rule: what a request means and how it is drawn", "[attention]") {
    const AttentionStack stack = randomStack(3, 4, 4, 17);
    cv::Mat photo(64, 64, CV_8UC3, cv::Scalar(120, 90, 60));

    AttentionView view; // the last layer's mean, class token
    CHECK(cv::norm(attentionViewMap(stack, view), attentionMap(stack, 2, HeadChoice::fused(HeadFusion::Mean)),
                   cv::NORM_INF) == 0);
    CHECK(describeAttentionView(stack, view) == "layer 2, mean, class token");
    view.layer = 1;
    view.heads = HeadChoice::single(3);
    view.patch = 5;
    CHECK(cv::norm(attentionViewMap(stack, view), attentionMap(stack, 1, HeadChoice::single(3), 6), cv::NORM_INF) == 0);

    // Rollout folds every head of every layer: a single head means the mean.
    view.rollout = true;
    view.discardRatio = 0.5;
    AttentionView mean = view;
    mean.heads = HeadChoice::fused(HeadFusion::Mean);
    CHECK(cv::norm(attentionViewMap(stack, view), attentionViewMap(stack, mean), cv::NORM_INF) == 0);
    CHECK(describeAttentionView(stack, view) == "rollout to layer 1 (mean fusion, discard 0.5), patch 5");

    // One map keeps the canvas's size; the DINO mask darkens the photo outside the kept patches
    // and leaves the kept ones as they were (no heatmap under a mask).
    view = {};
    CHECK(renderAttentionView(stack, photo, view).size() == photo.size());
    view.maskShare = 0.5;
    const cv::Mat masked = renderAttentionView(stack, photo, view);
    const MassMask mm = massMask(attentionViewMap(stack, view), 0.5);
    int kept = 0, dark = 0;
    for (int p = 0; p < 16; ++p) {
        const cv::Vec3b& pixel = masked.at<cv::Vec3b>(p / 4 * 16 + 8, p % 4 * 16 + 8);
        if (mm.mask.at<std::uint8_t>(p / 4, p % 4))
            kept += pixel == photo.at<cv::Vec3b>(0, 0);
        else
            dark += pixel[0] < 120;
    }
    CHECK(kept == mm.keptCount);
    CHECK(dark == 16 - mm.keptCount);

    // The sheet: every head and their fusion, tiles at least 224 px.
    view = {};
    view.allHeads = true;
    const cv::Mat sheet = renderAttentionView(stack, photo, view);
    CHECK(sheet.cols >= 2 * 224);
    CHECK(sheet.rows >= 2 * 224);

    // What a stack does not have, or what cannot be drawn, is refused with the setting named.
    AttentionView bad;
    bad.layer = 3;
    CHECK_THROWS_WITH(validateAttentionView(stack, bad), Catch::Contains("layer 3"));
    bad = {};
    bad.heads = HeadChoice::single(4);
    CHECK_THROWS_WITH(validateAttentionView(stack, bad), Catch::Contains("head 4"));
    bad = {};
    bad.patch = 16;
    CHECK_THROWS_WITH(validateAttentionView(stack, bad), Catch::Contains("patch 16"));
    bad = {};
    bad.allHeads = bad.rollout = true;
    CHECK_THROWS_AS(validateAttentionView(stack, bad), vitrine::core::Error);
}
