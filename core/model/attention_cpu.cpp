#include "core/model/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
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

torch::Tensor selfAttentionFromQkv(const torch::Tensor& qkvIn, int heads) {
    TORCH_CHECK(qkvIn.dim() == 3 && qkvIn.scalar_type() == torch::kFloat && qkvIn.device().is_cpu(),
                "selfAttentionFromQkv: expected float32 [B, T, 3D] on the CPU, got ", qkvIn.sizes());
    const auto qkv = qkvIn.contiguous();
    const std::int64_t b = qkv.size(0), t = qkv.size(1), d3 = qkv.size(2), d = d3 / 3;
    TORCH_CHECK(d3 % 3 == 0 && d % heads == 0, "selfAttentionFromQkv: ", d3, " is not 3 x heads x head_dim");
    const std::int64_t hd = d / heads;
    auto out = torch::empty({b, t, d}, qkv.options());
    const float* src = qkv.data_ptr<float>();
    float* dst = out.data_ptr<float>();
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

    // One task per (image, head, block of query rows); inside the parallel region oneDNN's GEMM
    // and the softmax (a vectorised row kernel, core/model/int8_kernels.h; ATen's was slower:
    // int8 ViT-Ti/16 at batch 32, 127-231 against 202-247 images/s on a Zen 5) run
    // single-threaded, so the threads never wait on each other within a product. With fewer (image, head) pairs than a few per thread (ViT-Ti's 3 heads at batch
    // 1 on 2 threads) the query rows are split so that every thread gets an even share.
    const std::int64_t pairs = b * heads;
    const std::int64_t wanted = 4 * static_cast<std::int64_t>(at::get_num_threads());
    const std::int64_t splits = std::clamp<std::int64_t>((wanted + pairs - 1) / pairs, 1,
                                                         std::max<std::int64_t>(1, t / 16));
    const std::int64_t rowsPer = (t + splits - 1) / splits;
    at::parallel_for(0, pairs * splits, 1, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> scores(static_cast<std::size_t>(rowsPer * t));
        for (auto task = begin; task < end; ++task) {
            const auto pair = task / splits, r0 = (task % splits) * rowsPer;
            const auto rows = std::min(rowsPer, t - r0);
            if (rows <= 0)
                continue;
            const auto img = pair / heads, head = pair % heads;
            const float* q = src + img * t * d3 + head * hd;
            const float* k = q + d;
            const float* v = q + 2 * d;
            // scores = scale · Q[r0 : r0 + rows] Kᵀ   (row-major, Q and K rows 3D apart)
            auto st = dnnl_sgemm('N', 'T', rows, t, hd, scale, q + r0 * d3, d3, k, d3, 0.0f, scores.data(), t);
            TORCH_CHECK(st == dnnl_success, "oneDNN sgemm failed (", static_cast<int>(st), ")");
            kernels::softmaxRows(scores.data(), rows, t); // in place: scores become probabilities
            // out[r0 : r0 + rows, head] = P V, written in place into [B, T, D]
            st = dnnl_sgemm('N', 'N', rows, hd, t, 1.0f, scores.data(), t, v, d3, 0.0f,
                            dst + (img * t + r0) * d + head * hd, d);
            TORCH_CHECK(st == dnnl_success, "oneDNN sgemm failed (", static_cast<int>(st), ")");
        }
    });
    return out;
}

} // namespace vitrine::core::model
