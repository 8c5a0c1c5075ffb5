// Seconds per training step (forward + backward + AdamW) of a preset, to size vit-micro:
//   bench_train_step [preset=vit-micro] [batch=32] [steps=5] [threads=2] [fp32|bf16]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/common/runtime.h"
#include "core/model/checkpoint.h"

using namespace vitrine::core;

static double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int main(int argc, char** argv) {
    ensureFastBlas(argc, argv);
    const std::string preset = argc > 1 ? argv[1] : "vit-micro";
    const int batch = argc > 2 ? std::stoi(argv[2]) : 32;
    const int steps = argc > 3 ? std::stoi(argv[3]) : 5;
    setComputeThreads(argc > 4 ? std::stoi(argv[4]) : 2);
    const bool bf16 = argc > 5 && std::string(argv[5]) == "bf16";
    torch::manual_seed(0);
    auto vit = model::loadModel(preset).model;
    vit->train();
    const int s = vit->config().imageSize;
    auto x = torch::randn({batch, 3, s, s});
    torch::optim::AdamW opt(vit->parameters(), torch::optim::AdamWOptions(1e-4));
    std::vector<double> wall, cpu;
    for (int i = 0; i <= steps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        const double c0 = cpuSeconds();
        at::autocast::set_cpu_enabled(bf16);
        at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
        auto e = vit->embed(x);
        // A triplet-like loss on in-batch pairs; the cost is all in the model.
        auto loss = torch::relu(0.2 + (e - e.roll(1, 0)).pow(2).sum(1) - (e - e.roll(2, 0)).pow(2).sum(1)).mean();
        at::autocast::set_cpu_enabled(false);
        at::autocast::clear_cache();
        opt.zero_grad();
        loss.backward();
        opt.step();
        if (i > 0) {
            wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            cpu.push_back(cpuSeconds() - c0);
        }
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    std::printf("%s %s batch %d threads %d: %.3f s/step wall (min %.3f), %.3f CPU-s/step\n", preset.c_str(),
                bf16 ? "bf16" : "fp32", batch, computeThreads(), wall[wall.size() / 2], wall.front(), cpu[cpu.size() / 2]);
}
