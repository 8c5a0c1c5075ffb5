#include "core/model/int8_gemm.h"

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.h>
#include <torch/torch.h>

#include "core/common/precision.h"
#include "core/model/int8_kernels.h"

namespace vitrine::core::model {

namespace {

// Rows per parallel task: a few rows keep both threads busy at batch 1 (197 tokens).
constexpr std::int64_t kRowGrain = 16;

QuantisedRows emptyRows(std::int64_t m, std::int64_t k) {
    return {torch::empty({m, k}, torch::kUInt8), torch::empty({m}, torch::kFloat), torch::empty({m}, torch::kInt)};
}

// Rows [m, k] quantised block by block on the threads: fill(begin, end, values, scales, zeros)
// writes rows [begin, end), the pointers already at row `begin`.
template <class Fill> QuantisedRows quantisedRows(std::int64_t m, std::int64_t k, Fill&& fill) {
    auto out = emptyRows(m, k);
    auto* q = out.values.data_ptr<std::uint8_t>();
    auto* s = out.scales.data_ptr<float>();
    auto* z = out.zeros.data_ptr<std::int32_t>();
    at::parallel_for(0, m, kRowGrain, [&](std::int64_t b, std::int64_t e) { fill(b, e, q + b * k, s + b, z + b); });
    return out;
}

// A LayerNorm or bias parameter as the row kernels read it.
torch::Tensor floatParameter(const torch::Tensor& t) { return t.detach().to(torch::kFloat).contiguous(); }

torch::Tensor rows2d(const torch::Tensor& x) {
    TORCH_CHECK(x.scalar_type() == torch::kFloat && x.device().is_cpu(), "int8 GEMM: expected float32 on the CPU, got ",
                x.scalar_type());
    return x.reshape({-1, x.size(-1)}).contiguous();
}

// A weight's version counter (0 for inference tensors, which keep none and cannot change).
std::int64_t versionOf(const torch::Tensor& t) { return t.defined() && !t.is_inference() ? t._version() : 0; }

// The int32 products, in a buffer each calling thread keeps (one forward pass at a time per thread).
std::int32_t* productBuffer(std::int64_t size) {
    thread_local std::vector<std::int32_t> buffer;
    if (static_cast<std::int64_t>(buffer.size()) < size)
        buffer.resize(static_cast<std::size_t>(size));
    return buffer.data();
}

} // namespace

int int8ActivationLevels() {
    const auto& cpu = cpuFeatures();
    return cpu.avx512vnni || cpu.amxInt8 ? 255 : 127;
}

QuantisedRows quantiseRows(const torch::Tensor& x, int levels) {
    const auto x2 = rows2d(x);
    const auto k = x2.size(1);
    const float* src = x2.data_ptr<float>();
    return quantisedRows(x2.size(0), k,
                         [&](std::int64_t b, std::int64_t e, std::uint8_t* q, float* s, std::int32_t* z) {
                             kernels::quantiseRows(src + b * k, e - b, k, levels, q, s, z);
                         });
}

QuantisedRows layerNormQuantise(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                                double eps, int levels) {
    const auto x2 = rows2d(x);
    const auto k = x2.size(1);
    const auto g = floatParameter(gamma), bt = floatParameter(beta);
    TORCH_CHECK(g.numel() == k && bt.numel() == k, "layerNormQuantise: LayerNorm of ", g.numel(), " for rows of ", k);
    const float* src = x2.data_ptr<float>();
    return quantisedRows(
        x2.size(0), k, [&](std::int64_t b, std::int64_t e, std::uint8_t* q, float* s, std::int32_t* z) {
            kernels::layerNormQuantiseRows(src + b * k, e - b, k, g.data_ptr<float>(), bt.data_ptr<float>(),
                                           static_cast<float>(eps), levels, q, s, z);
        });
}

struct Int8Linear::Packed {
    std::vector<std::pair<const void*, std::int64_t>> key;
    torch::Tensor weight; ///< int8 [N, K]
    torch::Tensor scales; ///< float [N], LayerScale's gain folded in
    torch::Tensor colsum; ///< int32 [N]: Σ_k weight[n, k], for the activations' zero points
    torch::Tensor bias;   ///< float [N], the gain folded in
};

std::shared_ptr<const Int8Linear::Packed> Int8Linear::packed(const torch::Tensor& weight, const torch::Tensor& bias,
                                                             const torch::Tensor& gain) {
    std::vector<std::pair<const void*, std::int64_t>> key;
    for (const auto* t : {&weight, &bias, &gain})
        key.emplace_back(t->defined() ? t->data_ptr() : nullptr, versionOf(*t));
    std::lock_guard lock(m_mutex);
    if (!m_packed || m_packed->key != key) {
        torch::NoGradGuard noGrad;
        auto p = std::make_shared<Packed>();
        const auto w = weight.detach().to(torch::kFloat);
        const auto n = w.size(0);
        const auto ws = (w.abs().amax(1) / 127.0).clamp_min(1e-12);
        p->weight = (w / ws.unsqueeze(1)).round().clamp(-127, 127).to(torch::kChar).contiguous();
        p->colsum = p->weight.to(torch::kInt).sum(1, false, torch::kInt).contiguous();
        auto b = bias.defined() ? bias.detach().to(torch::kFloat) : torch::zeros({n});
        auto s = ws;
        if (gain.defined()) {
            const auto g = gain.detach().to(torch::kFloat);
            s = s * g;
            b = b * g;
        }
        p->scales = s.contiguous();
        p->bias = b.contiguous();
        p->key = std::move(key);
        m_packed = std::move(p);
    }
    return m_packed;
}

namespace {

// acc = x.values · weightᵀ (int32 [M, N]).
std::int32_t* integerProducts(const QuantisedRows& x, const torch::Tensor& weight) {
    const auto m = x.values.size(0), k = x.values.size(1), n = weight.size(0);
    TORCH_CHECK(weight.size(1) == k, "int8 GEMM: weights of ", weight.size(1), " inputs for rows of ", k);
    auto* acc = productBuffer(m * n);
    const std::int32_t zero = 0;
    const auto st = dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, x.values.data_ptr<std::uint8_t>(), k, 0,
                                      weight.data_ptr<std::int8_t>(), k, 0, 0.0f, acc, n, &zero);
    TORCH_CHECK(st == dnnl_success, "oneDNN int8 GEMM failed (", static_cast<int>(st), ")");
    return acc;
}

} // namespace

torch::Tensor Int8Linear::operator()(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                     const torch::Tensor& gain, const torch::Tensor& residual) {
    return run(x, weight, bias, gain, residual, nullptr).first;
}

std::pair<torch::Tensor, QuantisedRows> Int8Linear::normed(const QuantisedRows& x, const torch::Tensor& weight,
                                                           const torch::Tensor& bias, const torch::Tensor& gain,
                                                           const torch::Tensor& residual, const torch::Tensor& gamma,
                                                           const torch::Tensor& beta, double eps, int levels) {
    const Norm norm{floatParameter(gamma), floatParameter(beta), static_cast<float>(eps), levels};
    return run(x, weight, bias, gain, residual, &norm);
}

std::pair<torch::Tensor, QuantisedRows> Int8Linear::run(const QuantisedRows& x, const torch::Tensor& weight,
                                                        const torch::Tensor& bias, const torch::Tensor& gain,
                                                        const torch::Tensor& residual, const Norm* norm) {
    const auto p = packed(weight, bias, gain);
    const auto m = x.values.size(0), n = p->weight.size(0);
    const std::int32_t* acc = integerProducts(x, p->weight);
    torch::Tensor res;
    if (residual.defined()) {
        res = rows2d(residual);
        TORCH_CHECK(res.size(0) == m && res.size(1) == n, "int8 GEMM: residual ", residual.sizes(), " for ", m, "x", n);
    }
    auto y = torch::empty({m, n}, torch::kFloat);
    QuantisedRows next;
    if (norm) {
        TORCH_CHECK(norm->gamma.numel() == n && norm->beta.numel() == n, "int8 GEMM: LayerNorm of ",
                    norm->gamma.numel(), " for rows of ", n);
        next = emptyRows(m, n);
    }
    const float* r = res.defined() ? res.data_ptr<float>() : nullptr;
    float* out = y.data_ptr<float>();
    at::parallel_for(0, m, kRowGrain, [&](std::int64_t b, std::int64_t e) {
        kernels::dequantiseRows(acc + b * n, e - b, n, x.scales.data_ptr<float>() + b,
                                x.zeros.data_ptr<std::int32_t>() + b, p->scales.data_ptr<float>(),
                                p->colsum.data_ptr<std::int32_t>(), p->bias.data_ptr<float>(), r ? r + b * n : nullptr,
                                out + b * n);
        if (norm)
            kernels::layerNormQuantiseRows(out + b * n, e - b, n, norm->gamma.data_ptr<float>(),
                                           norm->beta.data_ptr<float>(), norm->eps, norm->levels,
                                           next.values.data_ptr<std::uint8_t>() + b * n,
                                           next.scales.data_ptr<float>() + b, next.zeros.data_ptr<std::int32_t>() + b);
    });
    return {y, next};
}

Int8Products Int8Linear::products(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias) {
    auto p = packed(weight, bias, {});
    Int8Products out;
    out.acc = integerProducts(x, p->weight);
    out.rows = x.values.size(0);
    out.cols = p->weight.size(0);
    out.xs = x.scales.data_ptr<float>();
    out.xz = x.zeros.data_ptr<std::int32_t>();
    out.ws = p->scales.data_ptr<float>();
    out.colsum = p->colsum.data_ptr<std::int32_t>();
    out.bias = p->bias.data_ptr<float>();
    out.keep = std::make_shared<std::tuple<std::shared_ptr<const Packed>, torch::Tensor, torch::Tensor>>(
        std::move(p), x.scales, x.zeros);
    return out;
}

QuantisedRows Int8Linear::activated(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    bool quickGelu, int levels) {
    const auto p = packed(weight, bias, {});
    const auto m = x.values.size(0), n = p->weight.size(0);
    const std::int32_t* acc = integerProducts(x, p->weight);
    const auto act = quickGelu ? kernels::Activation::QuickGelu : kernels::Activation::Gelu;
    return quantisedRows(m, n, [&](std::int64_t b, std::int64_t e, std::uint8_t* q, float* s, std::int32_t* z) {
        kernels::dequantiseActivateQuantiseRows(acc + b * n, e - b, n, x.scales.data_ptr<float>() + b,
                                                x.zeros.data_ptr<std::int32_t>() + b, p->scales.data_ptr<float>(),
                                                p->colsum.data_ptr<std::int32_t>(), p->bias.data_ptr<float>(), act,
                                                levels, q, s, z);
    });
}

} // namespace vitrine::core::model
