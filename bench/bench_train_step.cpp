// W2: triplet training step, the peer's recipe (bench/peers/w2_train.py): vit-tiny-16 at
// 224 or 112, one fixed P x K batch, batch-hard euclidean triplet loss (margin 0.2) on the
// L2-normalised head output, AdamW lr 1e-4; forward under bf16 autocast or fp32.
//   bench_train_step [--preset vit-tiny-16] [--sizes 224,112] [--p 8] [--k 8] [--steps 3]
//                    [--fp32-steps 2] [--threads 2]
// One JSON line per size: value = images/s of the faster precision; the losses of the
// first steps of both precisions (same initial weights, same batch) show they agree.
#include <torch/torch.h>

#include "bench/bench_common.h"
#include "core/common/precision_scope.h"
#include "core/common/runtime.h"
#include "core/model/checkpoint.h"
#include "core/train/triplet.h"

using namespace vitrine;

int main(int argc, char** argv) {
    core::ensureFastBlas(argc, argv);
    bench::Args args(argc, argv);
    core::setComputeThreads(static_cast<int>(args.num("threads", 2)));
    const std::string preset = args.str("preset", "vit-tiny-16");
    const int p = static_cast<int>(args.num("p", 8)), k = static_cast<int>(args.num("k", 8));
    const int steps = static_cast<int>(args.num("steps", 3));
    const int fp32Steps = static_cast<int>(args.num("fp32-steps", 2));
    core::train::TripletLossOptions lossOptions;
    lossOptions.miner = core::train::Miner::BatchHard;
    lossOptions.distance = core::train::Distance::Euclidean;
    lossOptions.margin = 0.2;
    for (const auto& ss : args.list("sizes", "224,112")) {
        const int size = std::stoi(ss);
        torch::manual_seed(1);
        const auto x = torch::randn({p * k, 3, size, size});
        const auto labels = torch::arange(p).repeat_interleave(k);
        nlohmann::json variants;
        std::vector<double> lossesBf16, lossesFp32;
        double best = 0;
        std::string bestName;
        for (bool bf16 : {true, false}) {
            const int timed = bf16 ? steps : fp32Steps;
            if (timed <= 0)
                continue;
            torch::manual_seed(0);
            core::model::LoadOptions lo;
            lo.imageSize = size;
            auto vit = core::model::loadModel(preset, lo).model;
            vit->train();
            torch::optim::AdamW opt(vit->parameters(), torch::optim::AdamWOptions(1e-4));
            auto& losses = bf16 ? lossesBf16 : lossesFp32;
            auto step = [&] {
                opt.zero_grad();
                torch::Tensor e;
                {
                    core::AutocastScope autocast(bf16 ? core::Precision::Bf16 : core::Precision::Fp32);
                    e = vit->embed(x);
                }
                auto r = core::train::tripletLoss(e.to(torch::kFloat32), labels, lossOptions);
                r.loss.backward();
                opt.step();
                losses.push_back(r.loss.item<double>());
            };
            auto secs = bench::timeBlocks(step, timed);
            std::vector<double> rates;
            for (double t : secs)
                rates.push_back(p * k / t);
            const double rate = bench::median(rates);
            const std::string name = bf16 ? "bf16_autocast" : "fp32";
            variants[name] = {{"images_per_s", rate}, {"samples", rates}, {"losses", losses}};
            if (rate > best) {
                best = rate;
                bestName = name;
            }
        }
        double lossDiff = 0;
        for (std::size_t i = 0; i < std::min(lossesBf16.size(), lossesFp32.size()); ++i)
            lossDiff = std::max(lossDiff, std::abs(lossesBf16[i] - lossesFp32[i]));
        bench::emit("W2", preset + " s" + ss + " P" + std::to_string(p) + "xK" + std::to_string(k), best, "images/s",
                    true,
                    {{"variant", bestName},
                     {"variants", variants},
                     {"max_loss_diff_bf16_vs_fp32", lossDiff},
                     {"threads", core::computeThreads()}});
    }
}
