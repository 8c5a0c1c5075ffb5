// Forward-pass throughput of a Vitrine ViT on random input, to compare with
// shared/bench/peers/w1_embed.py (PyTorch) in the same session:
//   bench_embed [preset=vit-small-16] [batch=32] [repeats=5] [threads=2]
// Prints one line per precision: median images/s over `repeats` timed batches.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "core/common/runtime.h"
#include "core/model/checkpoint.h"

using namespace vitrine::core;

// Process CPU seconds: on a shared, overloaded machine wall time says more about the
// neighbours than about us, so we also report images per CPU-second.
static double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(int argc, char** argv) {
    ensureFastBlas(argc, argv);
    const std::string preset = argc > 1 ? argv[1] : "vit-small-16";
    const int batch = argc > 2 ? std::stoi(argv[2]) : 32;
    const int repeats = argc > 3 ? std::stoi(argv[3]) : 5;
    setComputeThreads(argc > 4 ? std::stoi(argv[4]) : 2);
    torch::manual_seed(0);
    auto loaded = model::loadModel(preset);
    auto& vit = loaded.model;
    const int s = vit->config().imageSize;
    auto x = torch::randn({batch, 3, s, s});
    torch::Tensor ref;
    for (bool bf16 : {false, true}) {
        torch::InferenceMode guard;
        at::autocast::set_cpu_enabled(bf16);
        at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
        auto out = vit->embed(x); // warm-up
        if (const char* prof = std::getenv("VITRINE_PROFILE")) {
            torch::autograd::profiler::RecordProfile rp(std::string(prof) + (bf16 ? ".bf16.json" : ".fp32.json"));
            vit->embed(x);
        }
        std::vector<double> rates, cpuRates;
        for (int r = 0; r < repeats; ++r) {
            auto t0 = std::chrono::steady_clock::now();
            const double c0 = cpuSeconds();
            out = vit->embed(x);
            cpuRates.push_back(batch / (cpuSeconds() - c0));
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            rates.push_back(batch / sec);
        }
        at::autocast::set_cpu_enabled(false);
        at::autocast::clear_cache();
        std::sort(rates.begin(), rates.end());
        std::sort(cpuRates.begin(), cpuRates.end());
        double cosine = 1.0;
        if (!bf16)
            ref = out.clone();
        else
            cosine = torch::cosine_similarity(out, ref, 1).mean().item<double>();
        std::printf("%s %s batch %d threads %d: %.2f img/s (min %.2f, max %.2f), %.2f img per CPU-s%s\n",
                    preset.c_str(), bf16 ? "bf16" : "fp32", batch, computeThreads(), rates[rates.size() / 2],
                    rates.front(), rates.back(), cpuRates[cpuRates.size() / 2], bf16 ? (" cosine vs fp32 " + std::to_string(cosine)).c_str() : "");
        std::fflush(stdout);
    }
}
