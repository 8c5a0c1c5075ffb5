// The probe behind Precision::Auto: a small ViT (ViT-S width, 1 block, 197 tokens, batch 8)
// run the way the embedder runs it, in float32 (fused block kernel, BLAS GEMMs), under bf16
// autocast (oneDNN) and with int8 Linear layers (oneDNN), best of a few runs each. A bare GEMM is not enough: on some CPUs
// the float32 model loses most of its time between the BLAS and OpenMP thread pools, which
// only the whole path shows (AMD EPYC Zen 4: GEMM alone 1.1x, the model 2.5x).
#include <algorithm>
#include <chrono>
#include <optional>

#include <torch/torch.h>

#include "core/common/precision_scope.h"
#include "core/model/vit.h"

namespace vitrine::core {

struct ProbeSpeedups {
    std::optional<double> bf16, int8;
};

ProbeSpeedups measurePrecisionSpeedups(bool withBf16, bool withInt8) {
    // ViT-S width: int8 pays from there (kInt8MinWidth); at ViT-Ti's it does not.
    model::VitConfig c = model::VitConfig::preset("vit-small-16");
    c.depth = 1;
    c.embedDim = 0;
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    auto state = gen.get_state();
    gen.set_current_seed(11); // the probe must not disturb anyone's random stream
    model::Vit vit(c);
    auto x = torch::randn({8, 3, c.imageSize, c.imageSize});
    gen.set_state(state);
    vit->eval();
    torch::InferenceMode guard;
    auto best = [&](Precision p) {
        AutocastScope scope(p);
        double fastest = 1e9;
        for (int i = 0; i < 5; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            (void)vit->embed(x).sum().item<float>();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (i > 0) // the first run pays one-off costs (oneDNN primitives, packing)
                fastest = std::min(fastest, s);
        }
        return fastest;
    };
    const double fp32 = best(Precision::Fp32);
    ProbeSpeedups r;
    if (withBf16)
        r.bf16 = fp32 / std::max(best(Precision::Bf16), 1e-9);
    if (withInt8)
        r.int8 = fp32 / std::max(best(Precision::Int8), 1e-9);
    return r;
}

} // namespace vitrine::core
