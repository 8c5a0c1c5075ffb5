// The int8 path's pieces (core/model/int8_gemm.h) against float32 torch: per-token quantisation,
// LayerNorm fused into it, the integer GEMM with its zero-point compensation, LayerScale and
// residual folded into the dequantisation, GELU between two GEMMs, and re-packing of weights
// that change.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "core/model/attention_cpu.h"
#include "core/model/int8_gemm.h"
#include "core/model/int8_kernels.h"

using namespace vitrine::core;

namespace {

torch::Tensor dequantised(const model::QuantisedRows& q) {
    return (q.values.to(torch::kFloat) - q.zeros.to(torch::kFloat).unsqueeze(1)) * q.scales.unsqueeze(1);
}

// Rows that differ as a ViT's do: ordinary ones, a "massive" one 100x larger, an all-positive
// one (a GELU output's shape: the zero point matters), an all-zero one.
torch::Tensor awkwardRows(std::int64_t k) {
    torch::manual_seed(21);
    auto x = torch::randn({6, k});
    x[2] *= 100.0;
    x[3] = x[3].abs() + 3.0;
    x[4].zero_();
    x[5] = -x[5].abs() - 1.0;
    return x;
}

double relativeError(const torch::Tensor& got, const torch::Tensor& want) {
    return ((got - want).norm() / want.norm()).item<double>();
}

} // namespace

TEST_CASE("quantiseRows gives every row its own scale and zero point", "[model][int8]") {
    for (const int levels : {255, 127}) {
        INFO("levels " << levels);
        const auto x = awkwardRows(100);
        const auto q = model::quantiseRows(x, levels);
        REQUIRE(q.values.sizes() == x.sizes());
        CHECK(q.values.max().item<int>() <= levels);
        const auto lo = torch::clamp_max(std::get<0>(x.min(1)), 0.0), hi = torch::clamp_min(std::get<0>(x.max(1)), 0.0);
        for (std::int64_t i = 0; i < x.size(0); ++i) {
            INFO("row " << i);
            const double range = (hi[i] - lo[i]).item<double>();
            const double scale = q.scales[i].item<double>();
            CHECK(scale == Approx(range > 0 ? range / levels : 1.0).epsilon(1e-5));
            // Within half a step of its own row's scale: the massive row does not coarsen the others.
            CHECK((dequantised(q)[i] - x[i]).abs().max().item<double>() <= scale * 0.5 + 1e-5);
        }
        CHECK(q.zeros[4].item<int>() == 0); // all-zero row: zero point 0, scale 1, values 0
        CHECK(q.values[4].max().item<int>() == 0);
        CHECK(q.zeros[3].item<int>() == 0);      // all positive: the range starts at 0
        CHECK(q.zeros[5].item<int>() == levels); // all negative: it ends at 0
        // A range too small for a finite inverse: scale 1, zero point 0, nothing undefined.
        const auto tiny = model::quantiseRows(torch::full({1, 16}, 1e-38f), levels);
        CHECK(tiny.scales[0].item<float>() == 1.0f);
        CHECK(tiny.zeros[0].item<int>() == 0);
        CHECK(tiny.values.max().item<int>() == 0);
        // A tensor of any leading shape is taken as rows of its last dimension.
        CHECK(model::quantiseRows(x.view({2, 3, 100}), levels).values.equal(q.values));
    }
}

TEST_CASE("layerNormQuantise is LayerNorm then quantiseRows", "[model][int8]") {
    const auto x = awkwardRows(384) + 0.5;
    const auto gamma = torch::rand({384}) + 0.5, beta = torch::randn({384}) * 0.1;
    const auto want = torch::layer_norm(x, {384}, gamma, beta, 1e-6);
    const auto q = model::layerNormQuantise(x, gamma, beta, 1e-6, 255);
    for (std::int64_t i = 0; i < x.size(0); ++i) {
        INFO("row " << i);
        CHECK((dequantised(q)[i] - want[i]).abs().max().item<double>() <= q.scales[i].item<double>() * 0.5 + 1e-4);
    }
}

TEST_CASE("an Int8Linear computes x W^T + b, with LayerScale and the residual folded in", "[model][int8]") {
    torch::manual_seed(4);
    const std::int64_t k = 384, n = 160;
    const auto w = torch::randn({n, k}) * 0.05, b = torch::randn({n});
    // Rows with offsets (non-zero zero points) and one massive row.
    const auto x = torch::randn({50, k}) + torch::linspace(-2, 2, 50).unsqueeze(1);
    x[7] *= 80.0;
    model::Int8Linear lin;
    const auto q = model::quantiseRows(x, 255);
    const auto want = torch::addmm(b, x, w.t());
    const auto plain = lin(q, w, b);
    INFO("relative error " << relativeError(plain, want));
    CHECK(relativeError(plain, want) < 0.01);
    // Exactly the integer products: the float product of the dequantised operands.
    const auto ws = w.abs().amax(1) / 127.0;
    const auto wq = (w / ws.unsqueeze(1)).round() * ws.unsqueeze(1);
    CHECK((plain - torch::addmm(b, dequantised(q), wq.t())).abs().max().item<double>() < 2e-3);
    for (std::int64_t i : {0, 7, 49})
        CHECK(torch::cosine_similarity(plain[i], want[i], 0).item<double>() > 0.999);

    const auto gain = torch::rand({n}) + 0.1, residual = torch::randn({50, n});
    const auto folded = lin(q, w, b, gain, residual);
    CHECK((folded - (plain * gain + residual)).abs().max().item<double>() < 1e-3);

    // normed: the same sum, and its LayerNorm quantised as layerNormQuantise does it.
    const auto gamma = torch::rand({n}) + 0.5, beta = torch::randn({n}) * 0.1;
    const auto [y, next] = lin.normed(q, w, b, gain, residual, gamma, beta, 1e-6, 255);
    CHECK((y - folded).abs().max().item<double>() < 1e-5);
    const auto alone = model::layerNormQuantise(folded, gamma, beta, 1e-6, 255);
    CHECK((next.values.to(torch::kInt) - alone.values.to(torch::kInt)).abs().max().item<int>() <= 1);
    CHECK(torch::allclose(next.scales, alone.scales, 1e-5, 1e-7));
}

TEST_CASE("an Int8Linear packs its weights again when they change", "[model][int8]") {
    torch::manual_seed(8);
    auto w = torch::randn({32, 64}), b = torch::zeros({32});
    const auto x = torch::randn({5, 64});
    const auto q = model::quantiseRows(x, 255);
    model::Int8Linear lin;
    const auto before = lin(q, w, b);
    {
        torch::NoGradGuard ng;
        w.mul_(-2.0); // in place: same storage, new version
    }
    const auto after = lin(q, w, b);
    CHECK((after + 2.0 * before).abs().max().item<double>() < 1e-3);
    CHECK(relativeError(after, torch::addmm(b, x, w.t())) < 0.01);
}

TEST_CASE("Int8Linear::activated applies GELU or QuickGELU and quantises for the next layer", "[model][int8]") {
    torch::manual_seed(9);
    const std::int64_t k = 192, n = 768;
    const auto w = torch::randn({n, k}) * 0.07, b = torch::randn({n}) * 0.5;
    const auto x = torch::randn({40, k});
    const auto q = model::quantiseRows(x, 255);
    model::Int8Linear lin;
    const auto pre = lin(q, w, b);
    for (const bool quick : {false, true}) {
        INFO((quick ? "QuickGELU" : "GELU"));
        const auto want = quick ? pre * torch::sigmoid(1.702 * pre) : torch::gelu(pre);
        const auto h = lin.activated(q, w, b, quick, 255);
        REQUIRE(h.values.sizes() == torch::IntArrayRef({40, n}));
        // Within half a step of each row's scale (plus the erf approximation's 1e-6).
        const auto err = (dequantised(h) - want).abs().amax(1);
        CHECK((err <= h.scales * 0.5 + 1e-4).all().item<bool>());
    }
}

TEST_CASE("the attention kernel's softmax rows match torch's, large logits included", "[model][int8]") {
    torch::manual_seed(12);
    auto x = torch::randn({7, 197}) * 4.0;
    x[3] += 80.0; // exp would overflow without subtracting the row's maximum
    x[5].fill_(-3.0);
    auto got = x.clone();
    model::kernels::softmaxRows(got.data_ptr<float>(), 7, 197);
    CHECK((got - x.softmax(1)).abs().max().item<double>() < 1e-6);
    CHECK((got.sum(1) - 1.0).abs().max().item<double>() < 1e-5);
}

TEST_CASE("the attention kernel on int8 products equals it on their dequantised floats", "[model][int8]") {
    torch::manual_seed(13);
    const std::int64_t b = 3, t = 20, d = 48;
    const int heads = 4;
    const auto w = torch::randn({3 * d, d}) * 0.2, bias = torch::randn({3 * d});
    const auto x = model::quantiseRows(torch::randn({b * t, d}), 255);
    model::Int8Linear lin;
    const auto floats = lin(x, w, bias).view({b, t, 3 * d});
    const auto want = model::selfAttentionFromQkv(floats, heads);
    const auto got = model::selfAttentionFromProducts(lin.products(x, w, bias), b, heads);
    REQUIRE(got.sizes() == want.sizes());
    CHECK((got - want).abs().max().item<double>() < 1e-5);
    CHECK_THROWS_WITH(model::selfAttentionFromProducts(lin.products(x, w, bias), 7, heads),
                      Catch::Contains("7 images"));
}
