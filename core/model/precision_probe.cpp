// The probe behind Precision::Auto: a small ViT (ViT-S width, 2 blocks, 197 tokens, batch 8)
// run the way the embedder runs it, in float32 (fused block kernel, BLAS GEMMs), under bf16
// autocast (oneDNN) and with int8 Linear layers (oneDNN), best of a few runs each. A bare GEMM is not enough: on some CPUs
// the float32 model loses most of its time between the BLAS and OpenMP thread pools, which
// only the whole path shows (AMD EPYC Zen 4: GEMM alone 1.1x, the model 2.5x).
#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "core/common/precision.h"
#include "core/common/precision_scope.h"
#include "core/model/vit.h"

namespace vitrine::core {

ProbeSpeedups measurePrecisionSpeedups(bool withBf16, bool withInt8) {
    // The first caller may be inside InferenceMode (the embedder resolves `auto` there): the
    // probe's model is built outside it, as the models it stands for are.
    torch::InferenceMode outside(false);
    // ViT-S width: int8 pays from there (kInt8MinWidth); at ViT-Ti's it does not.
    model::VitConfig c = model::VitConfig::preset("vit-small-16");
    c.depth = 2; // with one block the float32 patch embedding dilutes the figure by ~15 %
    c.embedDim = 0;
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    auto state = gen.get_state();
    gen.set_current_seed(11); // the probe must not disturb anyone's random stream
    model::Vit vit(c);
    auto x = torch::randn({8, 3, c.imageSize, c.imageSize});
    gen.set_state(state);
    vit->eval();
    torch::InferenceMode guard;
    // Rounds alternate the precisions and each keeps its fastest run, so a load that comes and
    // goes (a build in the background) weighs on all of them alike instead of on whichever
    // happened to run then; the first round pays one-off costs (oneDNN primitives, packing).
    std::vector<Precision> order{Precision::Fp32};
    if (withBf16)
        order.push_back(Precision::Bf16);
    if (withInt8)
        order.push_back(Precision::Int8);
    std::vector<double> fastest(order.size(), 1e9);
    for (int round = 0; round < 5; ++round) {
        for (std::size_t i = 0; i < order.size(); ++i) {
            AutocastScope scope(order[i]);
            const auto t0 = std::chrono::steady_clock::now();
            (void)vit->embed(x).sum().item<float>();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (round > 0)
                fastest[i] = std::min(fastest[i], s);
        }
    }
    ProbeSpeedups r;
    for (std::size_t i = 1; i < order.size(); ++i)
        (order[i] == Precision::Bf16 ? r.bf16 : r.int8) = fastest[0] / std::max(fastest[i], 1e-9);
    return r;
}

} // namespace vitrine::core
