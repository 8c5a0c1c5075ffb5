// Inspecting real models: attention captured from the ViT, hand-built weights whose
// attention is known, and the cached InspectionResult the Inspector panel works from.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>

#include <opencv2/core.hpp>

#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_tensors.h"
#include "core/analysis/inspection.h"
#include "core/analysis/patch_tokens.h"
#include "core/common/runtime.h"
#include "core/image/decode.h"
#include "core/model/vit.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

model::VitConfig tinyConfig() {
    model::VitConfig c;
    c.name = "test-tiny";
    c.imageSize = 32;
    c.patchSize = 8; // 4x4 grid, 17 tokens
    c.dim = 16;
    c.depth = 2;
    c.heads = 2;
    c.embedDim = 0;
    return c;
}

cv::Mat randomImage(int w, int h, unsigned seed) {
    cv::Mat img(h, w, CV_8UC3);
    cv::RNG rng(seed);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    return img;
}

} // namespace

TEST_CASE("attention captured from a ViT has rows summing to 1 and the documented layout", "[attention]") {
    torch::manual_seed(1);
    model::Vit vit(tinyConfig());
    vit->eval();
    const auto result = inspectImage(*vit, randomImage(48, 32, 2));
    REQUIRE(result.attention.layers == 2);
    REQUIRE(result.attention.heads == 2);
    REQUIRE(result.attention.tokens == 17);
    REQUIRE(result.gridSize() == 4);
    for (int l = 0; l < 2; ++l)
        for (int h = 0; h < 2; ++h) {
            const cv::Mat m = result.attention.matrix(l, h);
            for (int r = 0; r < m.rows; ++r)
                REQUIRE(cv::sum(m.row(r))[0] == Approx(1.0).margin(1e-5));
        }
    REQUIRE(result.patchTokens.size() == cv::Size(16, 16)); // [N = 16, D = 16]
    REQUIRE(result.classToken.size() == cv::Size(16, 1));
    REQUIRE(result.input.size() == cv::Size(32, 32));
    REQUIRE(result.input.type() == CV_8UC3);
    REQUIRE(result.originalSize == cv::Size(48, 32));
    REQUIRE(result.crop == cv::Rect(8, 0, 32, 32)); // landscape: centred square of the shorter side

    // The cached tokens are the model's: same as a direct forward pass.
    torch::InferenceMode guard;
    const auto direct = vit->forward(torch::zeros({1, 3, 32, 32}), true);
    const auto stack = attentionStackFromTensors(direct.attentions);
    REQUIRE(stack.values.size() == result.attention.values.size());
}

TEST_CASE("zero query/key weights give uniform attention and the predicted rollout", "[attention]") {
    torch::manual_seed(3);
    model::Vit vit(tinyConfig());
    vit->eval();
    {
        torch::NoGradGuard noGrad;
        const int d = vit->config().dim;
        for (auto& p : vit->named_parameters()) {
            const auto& name = p.key();
            if (name.find("attn.qkv.") != std::string::npos)
                p.value().narrow(0, 0, 2 * d).zero_(); // q and k rows (weight and bias)
        }
    }
    const auto result = inspectImage(*vit, randomImage(40, 40, 4));
    const float uniform = 1.f / 17;
    for (float v : result.attention.values)
        REQUIRE(v == Approx(uniform).margin(1e-6));

    for (auto fusion : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min}) {
        const cv::Mat map = classAttentionMap(result.attention, 1, HeadChoice::fused(fusion));
        REQUIRE(cv::norm(map - uniform, cv::NORM_INF) < 1e-6);
    }
    // Uniform U is idempotent, so ((U + I) / 2)^L = I / 2^L + (1 - 1 / 2^L) U: after two
    // layers every patch gets 0.75 / 17 of the class token's attention.
    const cv::Mat rollout = rolloutMap(result.attention);
    REQUIRE(cv::norm(rollout - 0.75f / 17, cv::NORM_INF) < 1e-5);
    const auto mask = massMask(rollout, 0.5);
    REQUIRE(mask.keptCount == 8); // equal mass: exactly half the patches
}

TEST_CASE("inspecting a demo photo with a preset model", "[attention]") {
    torch::manual_seed(5);
    model::Vit vit(model::VitConfig::preset("vit-micro"));
    vit->eval();
    const cv::Mat photo = image::decodeRgb(std::string(VITRINE_TEST_DATA) + "/cat/Abyssinian/Abyssinian_1.jpg");
    const auto result = inspectImage(*vit, photo);
    const auto& c = vit->config();
    REQUIRE(result.attention.layers == c.depth);
    REQUIRE(result.attention.tokens == c.numPatches() + 1);
    REQUIRE(result.patchTokens.rows == c.numPatches());
    REQUIRE(result.patchTokens.cols == c.dim);
    REQUIRE(result.input.size() == cv::Size(c.imageSize, c.imageSize));
    REQUIRE((result.crop & cv::Rect({0, 0}, photo.size())) == result.crop);
    REQUIRE(std::min(result.crop.width, result.crop.height) == std::min(photo.cols, photo.rows));
    const auto pca = pcaRgb(result.patchTokens, result.gridSize());
    REQUIRE(pca.rgb.size() == cv::Size(c.gridSize(), c.gridSize()));
    REQUIRE(result.seconds > 0);
    CancelToken cancel;
    cancel.cancel();
    REQUIRE_THROWS_AS(inspectImage(*vit, photo, &cancel), Cancelled);
}

// Not part of the suite (hidden tag): the figure quoted for issue 5.
TEST_CASE("time to inspect one vit-small-16 image at 224", "[.][attention-timing]") {
    torch::manual_seed(0);
    model::Vit vit(model::VitConfig::preset("vit-small-16"));
    vit->eval();
    const cv::Mat photo = image::decodeRgb(std::string(VITRINE_TEST_DATA) + "/cat/Abyssinian/Abyssinian_1.jpg");
    inspectImage(*vit, photo); // warm-up
    double best = 1e9, total = 0;
    const int runs = 5;
    const std::clock_t cpuStart = std::clock();
    for (int i = 0; i < runs; ++i) {
        const double s = inspectImage(*vit, photo).seconds;
        best = std::min(best, s);
        total += s;
    }
    const double cpu = double(std::clock() - cpuStart) / CLOCKS_PER_SEC / runs;
    std::cout << "inspect vit-small-16 @224, all 12 layers: best " << best * 1000 << " ms, mean " << total / runs * 1000
              << " ms wall, " << cpu * 1000 << " ms CPU per image, " << computeThreads() << " threads\n";
    SUCCEED();
}
