// W1: ViT forward throughput from decoded tensors, per preset and batch size, in float32,
// bf16 autocast (where the CPU has native bf16) and int8 Linear layers (the embedder's path:
// InferenceMode + one precision scope), with each one's cosine to float32. Peer: bench/peers/w1_embed.py.
//   bench_embed [--presets vit-small-16,vit-tiny-16] [--batches 32,1] [--calls 3]
//               [--fp32-calls 1] [--threads 2] [--only bf16|int8]
// A "call" at batch 1 is a block of 5 forward passes. One JSON line per (preset, batch):
// value = images/s of the fastest precision whose embeddings stay within cosine 0.99 of fp32.
// VITRINE_PROFILE=prefix writes a profiler trace of one bf16 call.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "bench/bench_common.h"
#include "core/common/precision_scope.h"
#include "core/common/runtime.h"
#include "core/model/checkpoint.h"

using namespace vitrine;

namespace {

// Analytic forward cost (as shared/bench/peers/w1_embed.py): patch embedding plus per block
// qkv/proj (4ND^2), attention (2N^2D) and MLP (2NDM) multiply-adds; FLOPs = 2 MACs.
double gflopsPerImage(const core::model::VitConfig& c) {
    const double p = std::pow(c.imageSize / c.patchSize, 2), n = p + 1, d = c.dim, m = c.dim * c.mlpRatio;
    const double macs = p * 3 * c.patchSize * c.patchSize * d +
                        c.depth * (4 * n * d * d + 2 * n * n * d + 2 * n * d * m);
    return 2 * macs / 1e9;
}

} // namespace

int main(int argc, char** argv) {
    core::ensureFastBlas(argc, argv);
    bench::Args args(argc, argv);
    core::setComputeThreads(static_cast<int>(args.num("threads", 2)));
    const int calls = static_cast<int>(args.num("calls", 3));
    const int fp32Calls = static_cast<int>(args.num("fp32-calls", 1));
    for (const auto& preset : args.list("presets", "vit-small-16,vit-tiny-16")) {
        torch::manual_seed(0);
        auto vit = core::model::loadModel(preset).model;
        const int s = vit->config().imageSize;
        const double gf = gflopsPerImage(vit->config());
        for (const auto& bs : args.list("batches", "32,1")) {
            const int batch = std::stoi(bs);
            const int inner = batch == 1 ? 5 : 1;
            auto x = torch::randn({batch, 3, s, s}, torch::TensorOptions().dtype(torch::kFloat32));
            nlohmann::json variants;
            torch::Tensor ref, out;
            double best = 0, cosine = 1;
            std::string bestName;
            std::vector<core::Precision> precisions{core::Precision::Fp32};
            const std::string only = args.str("only", ""); // "bf16" or "int8": that one (and float32's reference)
            if (core::cpuFeatures().nativeBf16() && only != "int8") // emulated bf16 is ~30x slower: not a candidate
                precisions.push_back(core::Precision::Bf16);
            if (core::int8Available() && only != "bf16")
                precisions.push_back(core::Precision::Int8);
            nlohmann::json cosines;
            for (core::Precision p : precisions) {
                const bool fp32 = p == core::Precision::Fp32;
                torch::InferenceMode guard;
                std::vector<double> secs;
                {
                    core::AutocastScope autocast(p);
                    auto fn = [&] { out = vit->embed(x); };
                    secs = bench::timeBlocks(fn, fp32 ? fp32Calls : calls, inner);
                    if (p == core::Precision::Bf16 && std::getenv("VITRINE_PROFILE")) {
                        torch::autograd::profiler::RecordProfile rp(std::string(std::getenv("VITRINE_PROFILE")) +
                                                                    ".json");
                        fn();
                    }
                }
                std::vector<double> rates;
                for (double t : secs)
                    rates.push_back(batch / t);
                const double rate = bench::median(rates);
                double cos = 1;
                if (fp32)
                    ref = out.clone();
                else
                    cos = torch::cosine_similarity(out.to(torch::kFloat32), ref, 1).min().item<double>();
                const std::string name = p == core::Precision::Bf16   ? "bf16_autocast"
                                         : p == core::Precision::Int8 ? "int8_dynamic"
                                                                      : "fp32";
                variants[name] = {{"images_per_s", rate}, {"samples", rates}, {"min_cosine_vs_fp32", cos}};
                cosines[name] = cos;
                if (rate > best && cos >= 0.99) {
                    best = rate;
                    bestName = name;
                    cosine = cos;
                }
            }
            bench::emit("W1", preset + " b" + bs, best, "images/s", true,
                        {{"variant", bestName},
                         {"variants", variants},
                         {"min_cosine_vs_fp32", cosine},
                         {"auto_picks", core::precisionName(core::resolvePrecision(core::Precision::Auto))},
                         {"cpu", core::computeSummary()},
                         {"gflops_per_image", gf},
                         {"achieved_gflops", best * gf},
                         {"threads", core::computeThreads()}});
        }
    }
}
