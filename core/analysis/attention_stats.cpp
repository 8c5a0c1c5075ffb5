#include "core/analysis/attention_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <torch/torch.h>

#include "core/analysis/attention_maps.h"
#include "core/analysis/attention_tensors.h"
#include "core/analysis/patch_tokens.h"
#include "core/common/error.h"
#include "core/image/preprocess.h"
#include "core/model/vit.h"

namespace vitrine::core::analysis {

namespace {

/// Normalised entropy of the class token's attention over the patches, one head.
double classRowEntropy(const AttentionStack& stack, int layer, int head) {
    const int n = stack.numPatches();
    const float* row = stack.values.data() + (static_cast<std::size_t>(layer) * stack.heads + head) *
                                                 static_cast<std::size_t>(stack.tokens) * stack.tokens;
    double sum = 0;
    for (int p = 1; p <= n; ++p)
        sum += std::max(0.0f, row[p]);
    if (!(sum > 0))
        return 1.0; // no attention to any patch: nothing singled out
    double h = 0;
    for (int p = 1; p <= n; ++p) {
        const double q = std::max(0.0f, row[p]) / sum;
        if (q > 0)
            h -= q * std::log(q);
    }
    return n > 1 ? h / std::log(double(n)) : 0.0;
}

} // namespace

AttentionStatistics attentionStatistics(const AttentionStack& stack, const cv::Mat& patchTokens, int grid) {
    stack.validate();
    if (stack.layers == 0 || stack.numPatches() != grid * grid)
        throw Error("attention statistics: the attention covers " + std::to_string(stack.numPatches()) +
                    " patches, the grid " + std::to_string(grid * grid));
    AttentionStatistics s;
    double entropy = 0;
    for (int h = 0; h < stack.heads; ++h)
        entropy += classRowEntropy(stack, stack.layers - 1, h);
    s.classEntropy = static_cast<float>(entropy / std::max(1, stack.heads));

    const cv::Mat rollout = rolloutMap(stack);
    const MassMask mask = massMask(rollout, 0.6);
    const double evenCount = 0.6 * stack.numPatches();
    s.rolloutConcentration = static_cast<float>(std::clamp(1.0 - mask.keptCount / evenCount, 0.0, 1.0));

    s.highNormTokens = static_cast<float>(highNormTokens(patchTokens, grid).patches.size());
    return s;
}

AttentionStatisticsRun computeAttentionStatistics(model::VitImpl& model,
                                                  const std::vector<std::filesystem::path>& files, int batch,
                                                  const ProgressFn& progress, const CancelToken* cancel) {
    const auto start = std::chrono::steady_clock::now();
    AttentionStatisticsRun run;
    run.perImage.resize(files.size());
    const auto& config = model.config();
    const image::PreprocessOptions options = config.inputOptions();
    const int grid = config.gridSize();
    const std::int64_t extra = config.prefixTokens() - 1;
    batch = std::max(1, batch);
    const auto params = model.parameters();
    const torch::Device device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
    torch::InferenceMode inference;
    report(progress, 0, static_cast<long long>(files.size()), StageKind::AttentionStats);
    for (std::size_t first = 0; first < files.size(); first += static_cast<std::size_t>(batch)) {
        if (cancel)
            cancel->check();
        const std::size_t last = std::min(files.size(), first + static_cast<std::size_t>(batch));
        std::vector<torch::Tensor> inputs;
        std::vector<std::size_t> which;
        for (std::size_t i = first; i < last; ++i) {
            try {
                inputs.push_back(image::loadPreprocessed(files[i], options));
                which.push_back(i);
            } catch (const Cancelled&) {
                throw;
            } catch (const std::exception& e) {
                run.errors.push_back(files[i].string() + ": " + e.what());
            }
        }
        if (!inputs.empty()) {
            const auto out = model.forward(torch::stack(inputs).to(device), /*withAttention=*/true);
            const auto patches = out.patches.to(torch::kCPU, torch::kFloat32).contiguous();
            for (std::size_t b = 0; b < which.size(); ++b) {
                const AttentionStack stack = attentionStackFromTensors(out.attentions, static_cast<std::int64_t>(b),
                                                                       extra);
                run.perImage[which[b]] = attentionStatistics(stack, tensorToMat(patches[static_cast<std::int64_t>(b)]),
                                                             grid);
            }
        }
        report(progress, static_cast<long long>(last), static_cast<long long>(files.size()), StageKind::AttentionStats);
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return run;
}

} // namespace vitrine::core::analysis
