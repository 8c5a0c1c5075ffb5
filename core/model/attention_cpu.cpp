#include "core/model/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.h>
#include <torch/torch.h>

#include "core/model/int8_kernels.h"

namespace vitrine::core::model {

bool attentionKernelEnabled() {
    static const bool enabled = [] {
        const char* v = std::getenv("VITRINE_NO_ATTENTION_KERNEL");
        return !(v && *v && std::string(v) != "0");
    }();
    return enabled;
}

namespace {

// softmax(Q Kᵀ · scale) V for every (image, head), written into out [B, T, D]. `load(img, part,
// col0, r0, rows, buffer)` gives rows [r0, r0 + rows) of image img's Q (part 0), K (1) or V (2)
// at columns [col0, col0 + hd) of that part, as a pointer and a row stride: in place from a float
// tensor, or dequantised into `buffer` (room for T × hd floats).
template <class Load>
void attendAll(std::int64_t b, std::int64_t t, std::int64_t d, int heads, float* dst, Load&& load) {
    const std::int64_t hd = d / heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    // One task per (image, head, block of query rows); inside the parallel region oneDNN's GEMM
    // and the softmax (a vectorised row kernel, core/model/int8_kernels.h; ATen's was slower:
    // int8 ViT-Ti/16 at batch 32, 127-231 against 202-247 images/s on a Zen 5) run
    // single-threaded, so the threads never wait on each other within a product. With fewer
    // (image, head) pairs than a few per thread (ViT-Ti's 3 heads at batch 1 on 2 threads) the
    // query rows are split so that every thread gets an even share.
    const std::int64_t pairs = b * heads;
    if (pairs == 0 || t == 0)
        return;
    const std::int64_t wanted = 4 * static_cast<std::int64_t>(at::get_num_threads());
    const std::int64_t splits = std::clamp<std::int64_t>((wanted + pairs - 1) / pairs, 1,
                                                         std::max<std::int64_t>(1, t / 16));
    const std::int64_t rowsPer = (t + splits - 1) / splits;
    at::parallel_for(0, pairs * splits, 1, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> scores(static_cast<std::size_t>(rowsPer * t));
        std::vector<float> qBuf(static_cast<std::size_t>(t * hd)), kBuf(qBuf.size()), vBuf(qBuf.size());
        for (auto task = begin; task < end; ++task) {
            const auto pair = task / splits, r0 = (task % splits) * rowsPer;
            const auto rows = std::min(rowsPer, t - r0);
            if (rows <= 0)
                continue;
            const auto img = pair / heads, col0 = (pair % heads) * hd;
            const auto [q, ldq] = load(img, 0, col0, r0, rows, qBuf.data());
            const auto [k, ldk] = load(img, 1, col0, 0, t, kBuf.data());
            const auto [v, ldv] = load(img, 2, col0, 0, t, vBuf.data());
            // scores = scale · Q[r0 : r0 + rows] Kᵀ
            auto st = dnnl_sgemm('N', 'T', rows, t, hd, scale, q, ldq, k, ldk, 0.0f, scores.data(), t);
            TORCH_CHECK(st == dnnl_success, "oneDNN sgemm failed (", static_cast<int>(st), ")");
            kernels::softmaxRows(scores.data(), rows, t); // in place: scores become probabilities
            // out[r0 : r0 + rows, head] = P V, written in place into [B, T, D]
            st = dnnl_sgemm('N', 'N', rows, hd, t, 1.0f, scores.data(), t, v, ldv, 0.0f,
                            dst + (img * t + r0) * d + col0, d);
            TORCH_CHECK(st == dnnl_success, "oneDNN sgemm failed (", static_cast<int>(st), ")");
        }
    });
}

} // namespace

torch::Tensor selfAttentionFromQkv(const torch::Tensor& qkvIn, int heads) {
    TORCH_CHECK(qkvIn.dim() == 3 && qkvIn.scalar_type() == torch::kFloat && qkvIn.device().is_cpu(),
                "selfAttentionFromQkv: expected float32 [B, T, 3D] on the CPU, got ", qkvIn.sizes());
    const auto qkv = qkvIn.contiguous();
    const std::int64_t b = qkv.size(0), t = qkv.size(1), d3 = qkv.size(2), d = d3 / 3;
    TORCH_CHECK(d3 % 3 == 0 && d % heads == 0, "selfAttentionFromQkv: ", d3, " is not 3 x heads x head_dim");
    auto out = torch::empty({b, t, d}, qkv.options());
    const float* src = qkv.data_ptr<float>();
    // Q, K and V read in place: rows 3D apart.
    attendAll(b, t, d, heads, out.data_ptr<float>(),
              [&](std::int64_t img, int part, std::int64_t col0, std::int64_t r0, std::int64_t, float*) {
                  return std::pair<const float*, std::int64_t>{src + (img * t + r0) * d3 + part * d + col0, d3};
              });
    return out;
}

torch::Tensor selfAttentionFromProducts(const Int8Products& qkv, std::int64_t batch, int heads) {
    const std::int64_t d3 = qkv.cols, d = d3 / 3;
    TORCH_CHECK(batch >= 0 && (batch > 0 ? qkv.rows % batch == 0 : qkv.rows == 0) && d3 % 3 == 0 && d % heads == 0,
                "selfAttentionFromProducts: ", qkv.rows, " x ", d3, " products for ", batch, " images of ", heads,
                " heads");
    const std::int64_t t = batch > 0 ? qkv.rows / batch : 0, hd = d / heads;
    auto out = torch::empty({batch, t, d}, torch::kFloat);
    // Each task dequantises the rows and head columns it reads into its own buffers.
    attendAll(batch, t, d, heads, out.data_ptr<float>(),
              [&](std::int64_t img, int part, std::int64_t col0, std::int64_t r0, std::int64_t rows, float* buffer) {
                  const auto row = img * t + r0, col = part * d + col0;
                  kernels::dequantiseBlock(qkv.acc + row * d3 + col, rows, hd, d3, qkv.xs + row, qkv.xz + row,
                                           qkv.ws + col, qkv.colsum + col, qkv.bias + col, buffer, hd);
                  return std::pair<const float*, std::int64_t>{buffer, hd};
              });
    return out;
}

} // namespace vitrine::core::model
