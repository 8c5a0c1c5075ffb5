// Training-step benchmark (issue 4), the C++ side of shared/bench/peers/w2_train.py:
// ViT-Ti/16 (D 192, depth 12, heads 3, MLP 768) + Linear(192, 128) head, L2-normalised,
// batch-hard triplet loss (euclidean, margin 0.2), AdamW lr 1e-4, one fixed synthetic batch
// of P×K randn images. Step = zero_grad + forward + loss + backward + step.
//
//   bench_train [--size 112] [--pk 8x8] [--precision fp32|bf16] [--steps 3] [--repeats 3] [--threads 2]
// Prints one JSON line.
#include <chrono>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/precision_scope.h"
#include "core/common/runtime.h"
#include "core/model/vit.h"
#include "core/train/embed_batch.h"
#include "core/train/triplet.h"

using namespace vitrine::core;

int main(int argc, char** argv) {
    ensureFastBlas(argc, argv);
    int size = 112, p = 8, k = 8, steps = 3, repeats = 3, threads = 2;
    std::string precision = "fp32";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--size")
            size = std::stoi(v);
        else if (a == "--pk") {
            p = std::stoi(v.substr(0, v.find('x')));
            k = std::stoi(v.substr(v.find('x') + 1));
        } else if (a == "--precision")
            precision = v;
        else if (a == "--steps")
            steps = std::stoi(v);
        else if (a == "--repeats")
            repeats = std::stoi(v);
        else if (a == "--threads")
            threads = std::stoi(v);
    }
    setComputeThreads(threads);
    model::VitConfig c;
    c.name = "vit-ti-16";
    c.imageSize = size;
    c.patchSize = 16;
    c.dim = 192;
    c.depth = 12;
    c.heads = 3;
    c.embedDim = 128;
    torch::manual_seed(0);
    model::Vit vit(c);
    vit->train();
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    auto x = torch::randn({p * k, 3, size, size}, gen);
    auto labels = torch::arange(p).repeat_interleave(k);
    torch::optim::AdamW opt(vit->parameters(), torch::optim::AdamWOptions(1e-4));
    train::TripletLossOptions lo;
    lo.miner = train::Miner::BatchHard;
    const auto prec = resolvePrecision(parsePrecision(precision));
    std::vector<double> losses;
    auto step = [&] {
        opt.zero_grad();
        torch::Tensor emb;
        {
            AutocastScope autocast(prec);
            emb = vit->embed(x);
        }
        auto r = train::tripletLoss(emb.to(torch::kFloat32), labels, lo);
        r.loss.backward();
        opt.step();
        losses.push_back(r.loss.item<double>());
    };
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    step();
    const double first = std::chrono::duration<double>(Clock::now() - t0).count();
    step(); // warm-up
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
        t0 = Clock::now();
        for (int s = 0; s < steps; ++s)
            step();
        rates.push_back(steps / std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(rates.begin(), rates.end());
    nlohmann::json j{{"bench", "train"},
                     {"size", size},
                     {"batch", p * k},
                     {"pk", std::to_string(p) + "x" + std::to_string(k)},
                     {"precision", precision},
                     {"threads", computeThreads()},
                     {"first_step_s", first},
                     {"steps_per_s_median", rates[rates.size() / 2]},
                     {"steps_per_s_min", rates.front()},
                     {"steps_per_s_max", rates.back()},
                     {"images_per_s_median", rates[rates.size() / 2] * p * k},
                     {"loss_first_last", {losses.front(), losses.back()}}};
    std::cout << j.dump() << std::endl;
}
