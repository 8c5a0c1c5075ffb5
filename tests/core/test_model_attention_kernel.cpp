// The CPU attention kernel (core/model/attention_cpu.h) against the textbook formula, and the
// ViT's inference paths that use it against the ones that do not.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "core/common/precision_scope.h"
#include "core/common/runtime.h"
#include "core/model/attention_cpu.h"
#include "core/model/vit.h"

using namespace vitrine::core;

namespace {

torch::Tensor reference(const torch::Tensor& qkv, int heads) {
    const auto b = qkv.size(0), t = qkv.size(1), d = qkv.size(2) / 3, hd = d / heads;
    auto r = qkv.reshape({b, t, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    auto attn = torch::matmul(r[0], r[1].transpose(-2, -1)).div(std::sqrt(double(hd))).softmax(-1);
    return torch::matmul(attn, r[2]).transpose(1, 2).reshape({b, t, d});
}

// A small ViT (64 px, 16 px patches, width 96, 3 heads) the tests below vary.
model::VitConfig smallConfig(int depth) {
    model::VitConfig c;
    c.imageSize = 64;
    c.patchSize = 16;
    c.dim = 96;
    c.heads = 3;
    c.depth = depth;
    return c;
}

} // namespace

TEST_CASE("the attention kernel computes softmax(QK^T/sqrt(d))V per image and head", "[model][attention-kernel]") {
    torch::manual_seed(7);
    struct Shape {
        std::int64_t b, t, heads, hd;
    };
    // Few (image, head) pairs split their query rows into blocks: ViT-Ti at batch 1, one head.
    for (const auto s : {Shape{3, 197, 3, 64}, Shape{1, 5, 1, 8}, Shape{2, 50, 6, 64}, Shape{4, 17, 2, 8},
                         Shape{1, 197, 3, 64}, Shape{1, 40, 1, 8}}) {
        INFO("B " << s.b << ", T " << s.t << ", heads " << s.heads << ", head dim " << s.hd);
        // Scaled like real activations: logits spread over several units, so softmax is peaked.
        const auto qkv = torch::randn({s.b, s.t, 3 * s.heads * s.hd}) * 2.0;
        const auto got = model::selfAttentionFromQkv(qkv, static_cast<int>(s.heads));
        const auto want = reference(qkv, static_cast<int>(s.heads));
        REQUIRE(got.sizes() == want.sizes());
        const double err = (got - want).abs().max().item<double>();
        INFO("max |difference| " << err);
        CHECK(err < 1e-4);
    }
    // A non-contiguous input (a transposed view) gives the same result as its contiguous copy.
    const auto base = torch::randn({2, 3 * 4 * 16, 9}).transpose(1, 2);
    CHECK(torch::allclose(model::selfAttentionFromQkv(base, 4), reference(base.contiguous(), 4), 1e-5, 1e-5));
    CHECK_THROWS_WITH(model::selfAttentionFromQkv(torch::randn({2, 5, 10}), 3), Catch::Contains("3 x heads"));
}

TEST_CASE("the ViT's inference with the attention kernel matches its gradient path", "[model][attention-kernel]") {
    // Gradients on: matmul + softmax (no kernel, no fused block). Inference mode without maps:
    // the fused block for a plain ViT, the attention kernel for LayerScale blocks (DINOv2's),
    // QuickGELU (CLIP's) and int8. Same embeddings (int8: within quantisation).
    struct Case {
        const char* name;
        bool layerScale, quickGelu;
        Precision precision;
    };
    for (const auto k :
         {Case{"plain", false, false, Precision::Fp32}, Case{"LayerScale + registers", true, false, Precision::Fp32},
          Case{"QuickGELU", false, true, Precision::Fp32}, Case{"int8", false, false, Precision::Int8},
          Case{"int8 LayerScale + registers", true, false, Precision::Int8},
          Case{"int8 QuickGELU", false, true, Precision::Int8}}) {
        INFO(k.name);
        model::VitConfig c = smallConfig(3);
        c.layerScale = k.layerScale;
        c.quickGelu = k.quickGelu;
        c.registers = k.layerScale ? 4 : 0;
        torch::manual_seed(5);
        model::Vit vit(c);
        vit->eval();
        if (k.layerScale) {
            torch::NoGradGuard ng;
            for (auto& item : vit->named_parameters())
                if (item.key().find("gamma") != std::string::npos)
                    item.value().fill_(0.5);
        }
        torch::manual_seed(3);
        const auto x = torch::randn({3, 3, 64, 64});
        const auto slow = vit->embed(x).detach();
        torch::Tensor fast;
        {
            c10::InferenceMode guard;
            AutocastScope scope(k.precision);
            fast = vit->embed(x);
        }
        const double cos = torch::cosine_similarity(fast, slow, 1).min().item<double>();
        const double err = (fast - slow).abs().max().item<double>();
        INFO("max |difference| " << err << ", least cosine " << cos);
        if (k.precision == Precision::Int8)
            CHECK(cos > 0.99);
        else
            CHECK(err < 1e-4);
    }
}

TEST_CASE("inference of a large batch in slices gives each image's own result", "[model][attention-kernel]") {
    // 11 images go through as a slice of 8 and one of 3 (VitImpl::forward); every output must
    // be what the image alone gives, in the same order.
    model::VitConfig c = smallConfig(2);
    c.registers = 2;
    torch::manual_seed(5);
    model::Vit vit(c);
    vit->eval();
    const auto x = torch::randn({11, 3, 64, 64});
    c10::InferenceMode guard;
    const auto all = vit->forward(x, false);
    REQUIRE(all.embedding.size(0) == 11);
    REQUIRE(all.patches.sizes() == torch::IntArrayRef({11, 16, 96}));
    REQUIRE(all.prefix.sizes() == torch::IntArrayRef({11, 3, 96}));
    // With attention maps the batch is not sliced: every image keeps its maps.
    const auto maps = vit->forward(x, true);
    REQUIRE(maps.attentions.size() == 2);
    CHECK(maps.attentions[0].size(0) == 11);
    CHECK((maps.embedding - all.embedding).abs().max().item<double>() < 1e-4);
    for (std::int64_t i = 0; i < 11; ++i) {
        INFO("image " << i);
        const auto one = vit->forward(x.slice(0, i, i + 1), false);
        CHECK((one.embedding[0] - all.embedding[i]).abs().max().item<double>() < 1e-5);
        CHECK((one.patches[0] - all.patches[i]).abs().max().item<double>() < 1e-4);
        CHECK((one.prefix[0] - all.prefix[i]).abs().max().item<double>() < 1e-4);
        CHECK((one.cls[0] - all.cls[i]).abs().max().item<double>() < 1e-4);
    }
}

TEST_CASE("int8 inference with attention maps: the same embedding as without, maps close to float32's",
          "[model][attention-kernel]") {
    // With maps the int8 blocks take the float qkv and ATen's attention (probabilities kept);
    // without, the attention kernel reads the integer products. Same quantised inputs either way.
    model::VitConfig c = smallConfig(3);
    torch::manual_seed(6);
    model::Vit vit(c);
    vit->eval();
    const auto x = torch::randn({2, 3, 64, 64});
    c10::InferenceMode guard;
    model::VitOutput fp32;
    {
        AutocastScope scope(Precision::Fp32);
        fp32 = vit->forward(x, true);
    }
    AutocastScope scope(Precision::Int8);
    const auto withMaps = vit->forward(x, true);
    const auto without = vit->forward(x, false);
    REQUIRE(withMaps.attentions.size() == 3);
    CHECK((withMaps.embedding - without.embedding).abs().max().item<double>() < 1e-4);
    for (std::size_t layer = 0; layer < 3; ++layer) {
        INFO("layer " << layer);
        const auto& a = withMaps.attentions[layer];
        REQUIRE(a.sizes() == torch::IntArrayRef({2, 3, 17, 17}));
        CHECK((a.sum(-1) - 1.0).abs().max().item<double>() < 1e-5);
        CHECK(torch::cosine_similarity(a.flatten(), fp32.attentions[layer].flatten(), 0).item<double>() > 0.99);
    }
}
