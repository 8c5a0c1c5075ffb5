// The ViT variants people hold, each against an independent float32 forward pass written in
// plain torch (tests/fixtures/torch/make_arch_fixtures.py): DINOv2 with LayerScale, with and
// without 4 register tokens, DeiT's distillation token, and OpenAI CLIP's visual tower inside a
// whole CLIP state dict (ln_pre, QuickGELU, ln_post, the projection) — read from .pth state
// dicts, their class token, patch tokens, attention and embedding within 1e-4 of the reference.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "core/analysis/inspection.h"
#include "core/analysis/patch_tokens.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"

namespace fs = std::filesystem;
using namespace vitrine::core;
using namespace vitrine::core::model;

namespace {

double maxAbsDiff(const torch::Tensor& got, const std::vector<double>& want) {
    const auto w = torch::tensor(want, torch::kDouble);
    REQUIRE(got.numel() == w.numel());
    return (got.reshape({-1}).to(torch::kDouble) - w).abs().max().item<double>();
}

} // namespace

TEST_CASE(
    "DINOv2 (LayerScale, registers), DeiT (distillation token) and CLIP's visual tower match an independent reference",
    "[model][architectures]") {
    // clip-jit: the same CLIP as a float16 TorchScript archive, as OpenAI publishes theirs.
    for (const char* name : {"dinov2-reg", "dinov2", "deit-distilled", "clip", "clip-jit"}) {
        INFO(name);
        const fs::path dir = fs::path(VITRINE_FIXTURES) / "torch";
        std::ifstream in(dir / (std::string(name) + ".json"));
        const auto ref = nlohmann::json::parse(in);
        LoadOptions o;
        o.heads = ref["config"]["heads"];
        const bool script = std::string(name) == "clip-jit";
        LoadedModel m = loadModel((dir / (std::string(name) + (script ? ".pt" : ".pth"))).string(), o);
        const auto& c = m.model->config();
        CHECK(c.registers == ref["config"]["registers"].get<int>());
        CHECK(c.distToken == ref["config"]["dist_token"].get<bool>());
        CHECK(c.layerScale == ref["config"]["layer_scale"].get<bool>());
        CHECK(c.imageSize == ref["config"]["image"].get<int>());
        const auto input =
            torch::tensor(ref["input"].get<std::vector<float>>()).reshape({1, 3, c.imageSize, c.imageSize});
        torch::NoGradGuard ng;
        const auto out = m.model->forward(input, /*withAttention=*/true);
        CHECK(maxAbsDiff(out.cls[0], ref["cls"].get<std::vector<double>>()) < 1e-4);
        CHECK(maxAbsDiff(out.patches[0], ref["patches"].get<std::vector<double>>()) < 1e-4);
        CHECK(out.patches.size(1) == c.numPatches());
        CHECK(maxAbsDiff(out.attentions[0][0][0], ref["attention_layer0_head0"].get<std::vector<double>>()) < 1e-5);
        // The inference path without maps (fused kernels where the block allows) agrees.
        const auto fast = m.model->forward(input, false);
        CHECK(maxAbsDiff(fast.cls[0], ref["cls"].get<std::vector<double>>()) < 1e-4);
        // CLIP: the projected, normalised image embedding; DeiT: the mean of its two tokens.
        if (ref.contains("embedding"))
            CHECK(maxAbsDiff(fast.embedding[0], ref["embedding"].get<std::vector<double>>()) < 1e-4);
        if (std::string(name).rfind("clip", 0) == 0) {
            CHECK(m.layout == "clip");
            CHECK(c.inputOptions().mean[0] == Approx(0.48145466));
        }

        // The Inspector's attention covers the class token and the patches; rows sum to 1.
        cv::Mat rgb(c.imageSize, c.imageSize, CV_8UC3);
        cv::randu(rgb, 0, 255);
        const auto inspection = analysis::inspectImage(*m.model, rgb);
        CHECK(inspection.attention.tokens == 1 + c.numPatches());
        const cv::Mat a = inspection.attention.matrix(0, 0);
        for (int r = 0; r < a.rows; ++r)
            CHECK(cv::sum(a.row(r))[0] == Approx(1.0).margin(1e-4));
        // Register tokens are kept for the Inspector's high-norm view: their tokens, and the
        // class token's last-layer attention to each (mean over heads), from the raw maps.
        CHECK(inspection.registerTokens.rows == c.registers);
        REQUIRE(inspection.registerAttention.size() == std::size_t(c.registers));
        if (c.registers > 0) {
            const auto raw = m.model->forward(image::preprocess(rgb, c.inputOptions()).unsqueeze(0), true);
            const auto row = raw.attentions.back()[0].select(1, 0).mean(0); // [T]
            for (int k = 0; k < c.registers; ++k)
                CHECK(inspection.registerAttention[std::size_t(k)] == Approx(row[1 + k].item<float>()).margin(1e-6));
            const auto expected = raw.prefix[0][1].contiguous(); // the first register
            const cv::Mat got = inspection.registerTokens.row(0);
            CHECK(maxAbsDiff(expected, std::vector<double>(got.begin<float>(), got.end<float>())) < 1e-6);
        }
    }
}

TEST_CASE("high-norm patch tokens are flagged by a robust outlier rule, highest first", "[analysis][architectures]") {
    const int g = 10;
    cv::Mat tokens(g * g, 16, CV_32F);
    cv::RNG rng(7);
    rng.fill(tokens, cv::RNG::NORMAL, 0.0, 1.0);
    SECTION("ordinary tokens only: nothing is flagged") {
        const auto high = analysis::highNormTokens(tokens, g);
        CHECK(high.patches.empty());
        CHECK(high.threshold > high.median);
    }
    SECTION("two tokens with a norm several times the rest") {
        tokens.row(37) *= 6.0;
        tokens.row(81) *= 9.0;
        const auto high = analysis::highNormTokens(tokens, g);
        CHECK(high.patches == std::vector<int>{81, 37});
        CHECK(high.norms.at<float>(8, 1) == Approx(cv::norm(tokens.row(81))));
    }
}
